#!/usr/bin/env bash
# Checks (and, as root, installs) what `make` needs outside Python: Python 3.11 with venv, and
# the X11/GL client libraries that the bpy wheel links against (no display is needed).
set -euo pipefail

DEB_PACKAGES="libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libsm6 libice6 libgl1 libxext6 libxxf86vm1"
# Not required, but without it Japanese model names on contact sheets fall back to the id.
# libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1: OpenGL through EGL (Mesa's llvmpipe on the CPU)
# for render.engine eevee / workbench; Cycles needs none of them (docs/rendering.md "Engines").
OPTIONAL_PACKAGES="fonts-noto-cjk libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1"
PYTHON="${1:-python3.11}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found. thagen needs Python 3.11 (the bpy 4.5 wheel is built for it)." >&2
  echo "       On Debian/Ubuntu: apt-get install python3.11 python3.11-venv, or use pyenv; then PYTHON=... make" >&2
  exit 1
fi
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then
  echo "error: $PYTHON is Python $version; thagen needs 3.11 (bpy 4.5 from PyPI). Set PYTHON=python3.11." >&2
  exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "error: $PYTHON lacks venv/ensurepip. On Debian: apt-get install python3.11-venv" >&2
  exit 1
fi

if command -v dpkg-query >/dev/null 2>&1; then
  missing=""
  for p in $DEB_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing Debian packages bpy needs:$missing"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    else
      echo "error: Debian packages missing (the bpy wheel links against them):$missing" >&2
      echo "       sudo apt-get install$missing" >&2
      exit 1
    fi
  fi
else
  echo "note: not a Debian system; make sure the X11 and GL client libraries are installed ($DEB_PACKAGES)." >&2
fi

if command -v dpkg-query >/dev/null 2>&1; then
  optional=""
  for p in $OPTIONAL_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || optional="$optional $p"
  done
  if [ -n "$optional" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "Installing Debian packages for Japanese labels on contact sheets and EEVEE / Workbench:$optional"
      apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $optional || \
        echo "note: could not install$optional; contact sheets will show ids instead of Japanese names, eevee / workbench need OpenGL" >&2
    else
      echo "note: optional Debian packages missing:$optional (fonts: contact sheets show ids instead of Japanese names; EGL / Mesa: render.engine eevee and workbench need them without a GPU driver)" >&2
    fi
  fi
fi

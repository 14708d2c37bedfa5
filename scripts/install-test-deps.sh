#!/usr/bin/env bash
# Installs (as root, with apt) the system programs that the real-parts tests use:
#   fonts-noto-cjk          Japanese glyphs for contact sheets and QA images (also used at run time)
#   slurm-wlm, munge        a real one-node Slurm cluster for the farm tests
#   chromium, chromium-driver  a real browser for the annotation GUI tests
#   libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1  OpenGL through EGL on the CPU (Mesa llvmpipe)
#                           for the EEVEE and Workbench renders (tests/render/test_engines.py)
# Not root or no apt: it says what is missing and the tests that need it report a skip
# (which .ci/run turns into a failure).
set -euo pipefail

DEB_PACKAGES="fonts-noto-cjk slurm-wlm munge chromium chromium-driver libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1"

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "note: not a Debian system; tests needing $DEB_PACKAGES may be skipped." >&2
  exit 0
fi
missing=""
for p in $DEB_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages the tests use:$missing"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "note: Debian packages missing:$missing (sudo apt-get install$missing); the tests that need them will skip." >&2
fi

#!/usr/bin/env bash
# Submit a thagen render to Slurm: an array of PARTS render tasks (render_array.sbatch) and a
# merge job (`thagen merge OUT`) that starts once every part has succeeded.
#
#   submit.sh MANIFEST OUT PARTS [sbatch options for the render array ...]
#   e.g. submit.sh /shared/tha1.yaml /shared/tha1-out 100 --cpus-per-task=8 --array=0-99%20
#
# Options after PARTS go to the render array and override the script's defaults (a later
# --array=3,7 re-runs only parts 3 and 7 of the PARTS). Options for both jobs (partition,
# account, QoS): set SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_QOS, which sbatch reads itself.
# Logs go to $LOGS (default OUT/slurm-logs), so keep OUT on storage every node shares.
# Prints "render <array job id>" and "merge <job id>".
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 MANIFEST OUT PARTS [sbatch options for the render array ...]" >&2
  exit 2
fi
manifest=$1 out=$2 parts=$3
shift 3
if ! [[ $parts =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: PARTS must be a positive whole number, got '$parts'" >&2
  exit 2
fi
if [ ! -f "$manifest" ]; then
  echo "$0: $manifest: no such manifest" >&2
  exit 2
fi
thagen=${THAGEN:-$(command -v thagen || true)}
if [ -z "$thagen" ]; then
  echo "$0: thagen not found: activate its venv or set THAGEN=/path/to/venv/bin/thagen" >&2
  exit 2
fi
if ! command -v sbatch >/dev/null 2>&1; then
  echo "$0: sbatch not found: run this where Slurm's commands are (a login node)" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
manifest=$(realpath "$manifest")
out=$(realpath -m "$out")
logs=$(realpath -m "${LOGS:-$out/slurm-logs}")
mkdir -p "$out" "$logs"

# Passed through the environment (sbatch's default --export=ALL), so paths may hold commas.
export MANIFEST=$manifest OUT=$out PARTS=$parts THAGEN=$thagen
render_id=$(sbatch --parsable --array="0-$((parts - 1))" --output="$logs/%x_%A_%a.log" "$@" \
  "$here/render_array.sbatch")
render_id=${render_id%%;*}
# --kill-on-invalid-dep: when a part fails the merge job is cancelled instead of pending forever.
merge_id=$(sbatch --parsable --job-name=thagen-merge --cpus-per-task=1 --time=02:00:00 \
  --dependency="afterok:$render_id" --kill-on-invalid-dep=yes --output="$logs/%x_%j.log" \
  --wrap="exec $(printf '%q' "$thagen") merge $(printf '%q' "$out")")
merge_id=${merge_id%%;*}

echo "render $render_id"
echo "merge $merge_id"
echo "progress: squeue -j $render_id,$merge_id; $thagen status $out (logs in $logs)" >&2

#!/bin/bash
# Submits a fastgo robustness evaluation to Slurm: SHARDS array tasks, then
# the merge, which runs only if every task succeeded.
#
#	RUN_DIR=/shared/robustness/run1 MODEL=/shared/model.safetensors \
#		SHARDS=8 deploy/slurm/submit.sh
#
# The other settings (FASTGO, DATA, SAMPLES, VERSION, NORM, EPS) are passed
# on to the tasks through the environment.
set -euo pipefail

: "${RUN_DIR:?set RUN_DIR to a folder on the shared file system}"
: "${MODEL:?set MODEL to the exported learner}"
SHARDS=${SHARDS:-4}
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$RUN_DIR"
array=$(sbatch --parsable --export=ALL --array="0-$((SHARDS - 1))" --chdir="$RUN_DIR" "$here/robustness-shard.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL,SHARDS="$SHARDS" --dependency="afterok:$array" --chdir="$RUN_DIR" "$here/robustness-merge.sbatch")
echo "shards: job array $array ($SHARDS tasks); merge: job ${merge%%;*} -> $RUN_DIR/report"

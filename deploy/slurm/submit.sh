#!/bin/bash
# Queues the 8B sweep's array and, once every task has ended, the merge:
#   deploy/slurm/submit.sh        (from the repository root, on the shared file system)
set -euo pipefail
array=$(sbatch --parsable deploy/slurm/nemotron-h-8b.sbatch)
sbatch --dependency="afterany:${array}" --job-name=hyquant-8b-report --output=hyquant-8b-report-%j.out \
  --wrap "hyquant report results/nemotron-h-8b"
echo "queued array ${array} (3 shards) and its merge"

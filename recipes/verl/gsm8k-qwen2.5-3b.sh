#!/usr/bin/env bash
# GTPO (or the GRPO baselines) on verl with the paper's Qwen2.5-3B / GSM8K setup. GPU only (verl has no
# CPU platform). Run from the repository root after `make verl`:
#   ALGO=gtpo bash recipes/verl/gsm8k-qwen2.5-3b.sh [extra hydra overrides ...]   # GTPO (default)
#   ALGO=grpo bash recipes/verl/gsm8k-qwen2.5-3b.sh                              # GRPO, beta = 0
#   ALGO=grpo-kl bash recipes/verl/gsm8k-qwen2.5-3b.sh                           # GRPO with a KL loss (0.04)
# GSM8K_SOURCE: a local GSM8K folder/JSONL (default: the hub); DATA: where the parquet files go.
set -euo pipefail
cd "$(dirname "$0")/../.."
ALGO=${ALGO:-gtpo}
DATA=${DATA:-runs/verl-data/gsm8k}
PY=${PY:-.venv-verl/bin/python}
source_args=()
[ -n "${GSM8K_SOURCE:-}" ] && source_args=(--source "$GSM8K_SOURCE")
[ -f "$DATA/train.parquet" ] || "$PY" -m gtpo.verl.data gsm8k "${source_args[@]}" --out "$DATA"
"$PY" -m gtpo.verl   # fails early if verl did not load gtpo's estimator
case "$ALGO" in
  gtpo) algo=(algorithm.adv_estimator=gtpo) ;;
  grpo) algo=(algorithm.adv_estimator=grpo) ;;
  grpo-kl) algo=(algorithm.adv_estimator=grpo actor_rollout_ref.actor.use_kl_loss=true
                 actor_rollout_ref.actor.kl_loss_coef=0.04 actor_rollout_ref.actor.kl_loss_type=low_var_kl) ;;
  *) echo "ALGO must be gtpo, grpo or grpo-kl" >&2; exit 2 ;;
esac
mapfile -t overrides < <(grep -v '^\s*\(#\|$\)' recipes/verl/gsm8k-qwen2.5-3b.overrides)
exec "$PY" -m verl.trainer.main_ppo "${overrides[@]}" "${algo[@]}" \
  data.train_files="$DATA/train.parquet" data.val_files="$DATA/test.parquet" \
  reward.custom_reward_function.path="$(pwd)/src/gtpo/verl/data.py" \
  trainer.experiment_name="qwen2.5-3b-gsm8k-$ALGO" trainer.default_local_dir="runs/verl/qwen2.5-3b-gsm8k-$ALGO" "$@"

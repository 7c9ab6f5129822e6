set -e
cd /work/wt-30
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
date
.venv/bin/gtpo sft recipes/smollm2-135m-sft.yaml --task explain --task_options '{"max_operand": 20, "max_value": 100, "min_steps": 3, "max_steps": 4, "intro": 0.7, "restate": 0.8, "check": 0.8}' --output_dir runs/smollm2-explain-sft
date
.venv/bin/python benchmarks/bench_frame_start.py --start runs/smollm2-explain-sft --task-options '{"max_operand": 20, "max_value": 100, "min_steps": 3, "max_steps": 4, "intro": 0.7, "restate": 0.8, "check": 0.8}' --problems 32 --samples 8 --max-new-tokens 256 --out runs/frame-start-smollm2 --json docs/img/frame-regime/start-smollm2.json
date

"""The engine-neutral run layer: what every training command and engine shares.

    gtpo.run.arguments    the recipe's task / reward / guard / run sections (dataclasses)
    gtpo.run.recipe       YAML + `--field value` parsing, run_config.yaml, resume, model-argument check
    gtpo.run.rewards      reward names -> registry entries, and the 'module:function' loader
    gtpo.run.guards       the reward guard (deadline, error counting) and the guard errors
    gtpo.run.checkpoints  atomic checkpoints, the last complete checkpoint, the output-folder check
    gtpo.run.folder       a run folder: refused without --resume / --overwrite, what a resume may change
    gtpo.run.logger       metrics.jsonl / conflict_samples.jsonl (a transformers callback)
    gtpo.run.io           atomic file writes and JSONL reading
    gtpo.run.model_source the model-argument check (a model folder with weights, or a hub id)
    gtpo.run.options      the options of a recipe command, cached: --help and unknown options without torch
Nothing here imports an RL engine (trl, verl) or gtpo.trl, gtpo.verl, gtpo.eval, gtpo.demo, gtpo.models.
"""

"""The offline demo, apart from the library's training path.

    gtpo.demo.pipeline    `gtpo demo`: tiny model -> warm start -> GTPO vs GRPO -> held-out evaluation -> report
    gtpo.demo.config      the options of `gtpo demo` (DemoConfig)
    gtpo.demo.summary     the held-out evaluation, demo.json and the report's sections
    gtpo.demo.tiny        the tiny offline tokenizer and Qwen2 model
    gtpo.demo.warm_start  the cached supervised warm start on arith (`gtpo model tiny`)
"""

from gtpo.demo.pipeline import DemoConfig, main, write_recipe
from gtpo.demo.summary import evaluate_heldout, outcome

__all__ = ["DemoConfig", "evaluate_heldout", "main", "outcome", "write_recipe"]

"""``cityagent bench llm``: how fast the configured model reads and writes on this machine.

Figures: prompt processing tokens/s (a long prompt, one output token), decode tokens/s
(a short prompt, ``max_tokens`` output tokens, prompt time subtracted), time to first
token of a typical question (streamed), and the time of one validated JSON answer.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from eval.bench.stats import summary_ms
from tools.llm import LLMRuntime, LLMSettings, LLMUnavailableError

_LONG_PROMPT = (
    "以下是某市12345热线工单办理规定的摘要：工单按照紧急程度分为特急、紧急和一般三类。"
    "特急工单受理后三十分钟内派发，两小时内响应并到场处置，二十四小时内办结；紧急工单两小时内派发，"
    "二十四小时内响应，三个工作日内办结；一般工单一个工作日内派发，五个工作日内办结。"
) * 6 + "请用一个词概括上文主题。"
_DECODE_PROMPT = "请详细介绍生活垃圾分类的四个类别，以及每一类常见的物品。"
_TYPICAL_QUESTION = "在本市，租房可以提取住房公积金吗？每月能提多少？"


class _Triage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Literal["公用事业", "市容环境", "交通运输", "环境保护", "社区治理"]
    urgency: Literal["一般", "紧急", "特急"]
    reason: str = Field(max_length=80)


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


async def run_llm_bench(
    settings: LLMSettings, model_dir: Path, log_dir: Path, *, runs: int, max_tokens: int
) -> dict[str, Any]:
    """Start the backend, time it, stop it; return the figures."""
    runtime = LLMRuntime(settings, model_dir, log_dir)
    started = time.perf_counter()
    await runtime.start()
    startup_s = time.perf_counter() - started
    client = runtime.client
    if not client.available:
        await runtime.stop()
        raise LLMUnavailableError(f"no model to benchmark: {getattr(client, 'reason', settings.backend)}")
    try:
        await client.chat([{"role": "user", "content": "你好"}], max_tokens=4)  # warm-up
        prompt_rates, decode_rates, ttfts, totals, json_times = [], [], [], [], []
        for _ in range(runs):
            long = await client.chat([{"role": "user", "content": _LONG_PROMPT}], max_tokens=1, temperature=0)
            prompt_rate = long.prompt_tokens / long.latency_s
            prompt_rates.append(prompt_rate)
            gen = await client.chat(
                [{"role": "user", "content": _DECODE_PROMPT}], max_tokens=max_tokens, temperature=0
            )
            decode_s = gen.latency_s - gen.prompt_tokens / prompt_rate
            decode_rates.append(gen.completion_tokens / max(decode_s, 1e-6))
            t0 = time.perf_counter()
            first: float | None = None
            async for _piece in client.stream(
                [{"role": "user", "content": _TYPICAL_QUESTION}], max_tokens=96
            ):
                first = first or time.perf_counter() - t0
            ttfts.append(first or 0.0)
            totals.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await client.structured(
                [{"role": "user", "content": "工单：幸福路12号供水管道爆裂，水漫到路面。请分类。"}], _Triage
            )
            json_times.append(time.perf_counter() - t0)
        return {
            "backend": settings.backend,
            "model": client.describe,
            "machine": _machine(),
            "startup_s": round(startup_s, 2),
            "runs": runs,
            "prompt_tokens_per_s": round(sum(prompt_rates) / runs, 1),
            "decode_tokens_per_s": round(sum(decode_rates) / runs, 1),
            "time_to_first_token": summary_ms(ttfts),
            "typical_answer_96_tokens": summary_ms(totals),
            "json_answer": summary_ms(json_times),
        }
    finally:
        await runtime.stop()

"""The run's configuration as the recommendations see it: each setting under its framework
spellings, and what the advice (the report's own and the rules' generic text) asks of it.

A rule's advice and causes are prose in YAML. Before one is shown, the report checks which config
settings it names (:func:`named_settings`) against two things: the settings the report already
speaks about with the run's own values (config-aware advice and causes), and the settings the run
already has at the value the advice asks for (:data:`ADVISED`). An item about such settings only
is dropped: the report never recommends what the run already does, and never says the same thing
twice (once generic, once with the run's numbers)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from trainlens.settings import RunSettings, setting_specs

#: Advised bounds shared by the config-aware advice and the check of the rules' generic advice.
CLIP_MAX = 1.0  # max_grad_norm above this is lowered; 0 < max_grad_norm <= 1.0 is advised
BETA_MIN = 0.1  # a KL coefficient below this is raised
TEMPERATURE_MIN = 1.0  # rollouts sampled colder than this are warmed up
CLIP_HIGH = 0.28  # DAPO's clip-higher: the upper clip range of the policy ratio


#: The run's settings as the advice reads them (one table for every framework's spellings).
Settings = RunSettings


def _at_least(name: str, low: float) -> Callable[[Settings], bool | None]:
    def check(cfg: Settings) -> bool | None:
        value = cfg.number(name)
        return None if value is None else value >= low

    return check


def _switched_on(name: str) -> Callable[[Settings], bool | None]:
    def check(cfg: Settings) -> bool | None:
        value = cfg.get(name)
        return value if isinstance(value, bool) else None

    return check


def _switched_off(name: str) -> Callable[[Settings], bool | None]:
    def check(cfg: Settings) -> bool | None:
        value = cfg.get(name)
        return not value if isinstance(value, bool) else None

    return check


def _clipped(cfg: Settings) -> bool | None:
    clip = cfg.number("max_grad_norm")
    return None if clip is None else 0 < clip <= CLIP_MAX


def _warmup(cfg: Settings) -> bool | None:
    if not (cfg.has("warmup_ratio") or cfg.has("warmup_steps")):
        return None  # verl's lr_warmup_steps -1 means "use the ratio": only > 0 is a warm-up
    return (cfg.number("warmup_ratio") or 0) > 0 or (cfg.number("warmup_steps") or 0) > 0


@dataclass(frozen=True)
class Advised:
    """What advice asks of one setting. ``followed(cfg)``: True when the run already has it,
    False when it does not, None when its config does not say."""

    setting: str
    followed: Callable[[Settings], bool | None]
    asks: str  # the condition, for documentation and test ids


#: Settings whose advised value is known, so advice naming them can be checked against the run.
#: Settings without an entry (max_completion_length, num_generations, learning_rate...) have no
#: single right value: the report's config-aware advice speaks about them instead.
ADVISED: dict[str, Advised] = {
    a.setting: a
    for a in (
        Advised("max_grad_norm", _clipped, f"0 < max_grad_norm <= {CLIP_MAX}"),
        Advised("beta", _at_least("beta", BETA_MIN), f"beta >= {BETA_MIN}"),
        Advised(
            "temperature",
            _at_least("temperature", TEMPERATURE_MIN),
            f"temperature >= {TEMPERATURE_MIN}",
        ),
        Advised(
            "epsilon_high", _at_least("epsilon_high", CLIP_HIGH), f"epsilon_high >= {CLIP_HIGH}"
        ),
        Advised("warmup_ratio", _warmup, "warmup_ratio > 0 or warmup_steps > 0"),
        Advised("warmup_steps", _warmup, "warmup_ratio > 0 or warmup_steps > 0"),
        Advised(
            "mask_truncated_completions",
            _switched_on("mask_truncated_completions"),
            "mask_truncated_completions / overlong_filter true",
        ),
        Advised(
            "load_best_model_at_end",
            _switched_on("load_best_model_at_end"),
            "load_best_model_at_end true",
        ),
        # "bf16 instead of fp16": a run already in bf16 has it
        Advised("bf16", _switched_on("bf16"), "bf16 true"),
        Advised("fp16", _switched_off("fp16"), "fp16 false"),
    )
}

#: Plain-language names of settings, matched in rule causes ("learning rate too high") besides
#: the config keys. Not in advice: an advice item such as "resume ... with a smaller learning
#: rate" is about the resumption, not only about the setting.
TERMS: dict[str, tuple[str, ...]] = {
    "learning_rate": ("learning rate",),
    "warmup_ratio": ("warm-up", "warmup"),
    "num_generations": ("generations",),
}


def _pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Any of ``words`` as a whole word (ASCII boundaries, so ``beta`` is found in ``调大 beta``
    but not in ``adam_beta1``)."""
    alternatives = "|".join(map(re.escape, words))
    return re.compile(rf"(?<![A-Za-z0-9_-])({alternatives})(?![A-Za-z0-9_-])", re.IGNORECASE)


#: Topics of config-aware advice that are no config key: the checkpoint to keep. A rule's "keep
#: the checkpoint at the best step" repeats the report's "use checkpoint-600".
TOPICS: dict[str, tuple[str, ...]] = {"checkpoint": ("checkpoint",)}
_NAMES = {**{n: spec.prose_names for n, spec in setting_specs().items()}, **TOPICS}
_KEYS = {name: _pattern(spellings) for name, spellings in _NAMES.items()}
_KEYS_AND_TERMS = {
    name: _pattern((*spellings, *TERMS.get(name, ()))) for name, spellings in _NAMES.items()
}


def named_settings(text: str, *, terms: bool = False) -> set[str]:
    """The settings ``text`` names by a config key (and, with ``terms``, by a plain name)."""
    patterns = _KEYS_AND_TERMS if terms else _KEYS
    return {name for name, pattern in patterns.items() if pattern.search(text)}


def is_settled(
    text: str, covered: set[str], cfg: RunSettings | None = None, *, terms: bool = False
) -> bool:
    """Whether generic ``text`` names settings and every one is either ``covered`` (the report
    already says something about it with the run's own value) or, given ``cfg``, already at
    the value the advice asks for (:data:`ADVISED`)."""
    names = named_settings(text, terms=terms)

    def done(name: str) -> bool:
        return cfg is not None and name in ADVISED and ADVISED[name].followed(cfg) is True

    return bool(names) and all(n in covered or done(n) for n in names)


def unsettled(
    texts: Mapping[str, Sequence[str]],
    lang: str,
    covered: set[str],
    settings: RunSettings | None = None,
    *,
    terms: bool = False,
) -> list[str]:
    """The items of a rule's ``texts`` (``{lang: [item, ...]}``, advice or causes) in ``lang``
    minus the settled ones (see :func:`is_settled`; without ``config`` only ``covered``
    counts). Decided on the English item, so both languages keep the same items (the Chinese
    text does not always spell the setting: 采样温度 for temperature)."""
    items = list(texts.get(lang) or [])
    english = list(texts.get("en") or [])
    judge = english if len(english) == len(items) else items
    return [
        in_framework_spelling(item, settings) if settings is not None else item
        for item, probe in zip(items, judge)
        if not is_settled(probe, covered, settings, terms=terms)
        and (settings is None or all(settings.applies(n) for n in named_settings(probe)))
    ]


def in_framework_spelling(text: str, settings: RunSettings) -> str:
    """``text`` with each config key it names spelled as the run's config or framework spells
    it (``max_grad_norm`` → ``actor_rollout_ref.actor.grad_clip`` for verl). Only where the
    framework has its own spelling or the config used a nested key: flat configs keep the
    rules' wording."""
    for name in named_settings(text):
        spec = setting_specs().get(name)
        if spec is None:
            continue
        spelled = settings.spelling(name)
        own = settings.key(name)
        if spelled is None or not (
            (settings.framework or "") in (spec.spell or {}) or (own and "." in own)
        ):
            continue
        others = [k for k in spec.prose_names if k != spelled]
        if others:
            text = _pattern(others).sub(spelled, text)
    return text

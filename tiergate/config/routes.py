"""The YAML shape of ``routes:``, validated with pydantic as part of the settings.

Why a schema of its own: a typo in a route (``when: {taks: ...}``) must stop the gateway at
start-up with the route and key named, not route traffic silently to the default. Every model
here is ``extra="forbid"``, and the settings hold routes as ``RouteSpec``s, so a bad route is
reported at load with the key path of the validation error's ``loc`` and its line in the file;
``routing.routes.build_policies`` turns these specs into policies and checks what pydantic
cannot (model names against the catalog, regexes, schemas, callables).

A route is one of six kinds, told apart by which key it has (``type:`` may name it too):
``rules``/``default`` (rules route), ``ladder`` (escalation ladder), ``learned`` (learned router),
``agent_loop`` (per-turn routing of an agent's conversation), ``fanout`` (planner, parallel
workers, composer) and ``draft_review`` (cheap drafts, a strong reviewer).
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WhenSpec(_Spec):
    """Conditions of one rule; all that are given must hold (an empty ``when`` always holds)."""

    task: tuple[str, ...] | None = None
    has_images: bool | None = None
    has_tools: bool | None = None
    min_prompt_tokens: int | None = Field(default=None, ge=0)
    max_prompt_tokens: int | None = Field(default=None, ge=0)

    @field_validator("task", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return tuple(str(v).strip().lower() for v in value)
        return value


class RuleSpec(_Spec):
    when: WhenSpec = Field(default_factory=WhenSpec)
    use: str


# -- validators ------------------------------------------------------------------------------
class JsonSpec(_Spec):
    type: Literal["json"]


class JsonSchemaSpec(_Spec):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class RegexSpec(_Spec):
    type: Literal["regex"]
    pattern: str
    # search: the pattern occurs somewhere; full: the whole (stripped) answer matches it.
    match: Literal["search", "full"] = "search"
    ignore_case: bool = False


class OneOfSpec(_Spec):
    type: Literal["one_of"]
    labels: tuple[str, ...] = Field(min_length=1)
    case_sensitive: bool = False


class MaxLengthSpec(_Spec):
    type: Literal["max_length"]
    chars: int = Field(gt=0)


class PythonSpec(_Spec):
    type: Literal["python"]
    callable: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class JudgeSpec(_Spec):
    type: Literal["judge"]
    model: str
    prompt: str
    pass_if: str = "PASS"
    max_tokens: int = Field(default=16, gt=0)


class FinalAnswerSpec(_Spec):
    """The answer states a final answer (``####``, ``\\boxed{}``, "the answer is")."""

    type: Literal["final_answer"]
    numeric: bool = False  # the stated final answer must be one number


class ArithmeticSpec(_Spec):
    """Every equation the answer states re-computes to the value it gives."""

    type: Literal["arithmetic"]


class AnswerModelSpec(_Spec):
    """A learned answer validator (``tiergate router validator train``) scores the answer."""

    type: Literal["answer_model"]
    path: str
    threshold: float | None = None  # default: the file's calibrated threshold


ValidatorSpec = Annotated[
    JsonSpec
    | JsonSchemaSpec
    | RegexSpec
    | OneOfSpec
    | MaxLengthSpec
    | PythonSpec
    | JudgeSpec
    | FinalAnswerSpec
    | ArithmeticSpec
    | AnswerModelSpec,
    Field(discriminator="type"),
]


class LearnedSpec(_Spec):
    router: str
    weak: str | None = None  # default: the router file's weak model
    strong: str | None = None  # default: the router file's strong model
    threshold: float | None = None  # default: the router file's calibrated threshold
    # A router trained on more than two models: its model names -> served models (default:
    # the same names). The route sends each prompt to the cheapest one predicted good enough.
    models: dict[str, str] | None = None


DEFAULT_PAIRWISE_PROMPT = (
    "You compare two answers to the same question. Reply with one word first: A if answer A "
    "is better, B if answer B is better, TIE if they are equally good (or equally bad)."
)
DEFAULT_RUBRIC_PROMPT = (
    "You grade an answer to a question. Reply with one word first: PASS if the answer is "
    "correct and does what was asked, FAIL otherwise."
)


class PairJudgeSpec(_Spec):
    """A model grading (served, candidate) answer pairs off the request path.

    ``pairwise``: the judge sees both answers and names the better one, asked in both orders
    (served first, then candidate first) so a judge that favours a position cancels out: a
    pair counts as a win or a loss only when both orders agree, else as a tie. ``rubric``: the
    judge grades each answer alone against ``prompt`` (``pass_if`` as for the judge
    validator), and the candidate's pass rate is set against the served model's."""

    model: str
    mode: Literal["pairwise", "rubric"] = "pairwise"
    prompt: str | None = None  # default: a generic prompt for the mode
    pass_if: str = "PASS"
    max_tokens: int = Field(default=16, gt=0)
    # Share of the compared pairs that are judged (each costs two judge calls).
    sample: float = Field(default=1.0, gt=0, le=1)

    @property
    def instructions(self) -> str:
        if self.prompt is not None:
            return self.prompt
        return DEFAULT_PAIRWISE_PROMPT if self.mode == "pairwise" else DEFAULT_RUBRIC_PROMPT


class ShadowSpec(_Spec):
    """Send a sample of the route's answered requests to a candidate model too, after the reply:
    its answer is logged beside the served one (``shadows`` table), never returned."""

    model: str
    # Share of answered requests shadowed; a shadow call costs what a real one does.
    sample: float = Field(default=0.1, gt=0, le=1)
    # Shadow calls of this route running at once in one gateway process; past it a request
    # is not shadowed.
    max_in_flight: int = Field(default=8, gt=0)
    # Grade the (served, candidate) pairs with a model; verdicts in ``judgments``.
    judge: PairJudgeSpec | None = None


def _duration_s(value: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    text = value.strip().lower()
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            number = text.removesuffix(unit).strip()
            try:
                seconds = float(number) * units[unit]
            except ValueError:
                break
            if seconds > 0:
                return seconds
            break
    raise ValueError(f"{value!r} is not a duration: write it like 30s, 500ms, 5m or 1h")


class RampSpec(_Spec):
    """Raise the candidate's share through ``steps`` (percentages, increasing), one step
    every ``every``: a number of the route's requests (``200``) or a time (``30s``, ``5m``)."""

    steps: tuple[float, ...] = Field(min_length=1)
    every: int | str

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < s <= 100 for s in steps):
            raise ValueError("every step is a percentage in (0, 100]")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError("steps must increase")
        return steps

    @field_validator("every")
    @classmethod
    def _every(cls, every: int | str) -> int | str:
        if isinstance(every, int):
            if every <= 0:
                raise ValueError("`every` is a positive number of requests or a duration")
            return every
        _duration_s(every)
        return every

    @property
    def every_requests(self) -> int | None:
        return self.every if isinstance(self.every, int) else None

    @property
    def every_seconds(self) -> float | None:
        return None if isinstance(self.every, int) else _duration_s(self.every)


class GuardSpec(_Spec):
    """When the candidate's own traffic over the last ``window`` crosses a limit (once it has
    ``min_requests`` there), the rollout goes back to 0% by itself."""

    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    max_refusal_rate: float | None = Field(default=None, ge=0, le=1)
    # Judged quality of the candidate's answers (pairwise: wins + half the ties over the
    # pairs, 0.5 = as good as the incumbent; rubric: its pass rate).
    min_judged_quality: float | None = Field(default=None, ge=0, le=1)
    min_requests: int = Field(default=20, gt=0)
    window: str = "5m"
    # How the judged quality is measured: a sample of the candidate's answers, each set
    # against the incumbent's answer to the same request (called off the request path).
    judge: PairJudgeSpec | None = None
    # How often each replica re-reads the shared state and checks the guard.
    check_every: str = "2s"

    @field_validator("window", "check_every")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        _duration_s(value)
        return value

    @property
    def window_seconds(self) -> float:
        return _duration_s(self.window)

    @property
    def check_seconds(self) -> float:
        return _duration_s(self.check_every)

    @model_validator(mode="after")
    def _judge_for_quality(self) -> GuardSpec:
        if self.min_judged_quality is not None and self.judge is None:
            raise ValueError("`min_judged_quality` needs a `judge` to measure it")
        return self


class RolloutSpec(_Spec):
    """Serve ``percent`` of the route's requests with a candidate model instead; with a
    ``ramp`` or a ``guard`` the share is managed: kept in the store (shared by replicas),
    raised step by step and rolled back to 0 when the guard trips."""

    model: str
    percent: float | None = Field(default=None, gt=0, le=100)
    ramp: RampSpec | None = None
    guard: GuardSpec | None = None

    @model_validator(mode="after")
    def _share(self) -> RolloutSpec:
        if self.percent is None and self.ramp is None:
            raise ValueError("a rollout needs a `percent` or a `ramp`")
        if self.percent is not None and self.ramp is not None:
            raise ValueError("give either `percent` (a fixed share) or `ramp`, not both")
        return self

    @property
    def managed(self) -> bool:
        return self.ramp is not None or self.guard is not None

    @property
    def steps(self) -> tuple[float, ...]:
        if self.ramp is not None:
            return self.ramp.steps
        assert self.percent is not None
        return (self.percent,)


class AgentLoopSpec(_Spec):
    """Planning turns on ``strong``, tool-loop turns on ``cheap`` (``routing/agent_loop.py``)."""

    strong: str
    cheap: str
    # Turns a switch to the cheap model is expected to last, and the share of the strong
    # model's cost over them a switch must save (hysteresis), counting the cache re-write.
    horizon_turns: int = Field(default=8, gt=0)
    hysteresis: float = Field(default=0.2, ge=0)
    # A step "looks hard" (strong model) after this many tool errors in a row, with more
    # tool-result tokens than this, or after this many cheap answers escalated in a row.
    error_streak: int = Field(default=2, gt=0)
    max_tool_result_tokens: int = Field(default=20_000, gt=0)
    escalations_before_stay: int = Field(default=2, gt=0)
    output_tokens: int = Field(default=400, gt=0)


class FanoutSpec(_Spec):
    """A planner splits the request into independent subtasks, workers run them in parallel,
    a composer merges their answers (``routing/multicall.py``, ``gateway/multicall_run.py``)."""

    planner: str
    # A subtask runs on the first; when it fails there (after ``worker_retries``) it moves up.
    workers: tuple[str, ...] = Field(min_length=1)
    composer: str | None = None  # default: the planner
    max_subtasks: int = Field(default=8, gt=0, le=64)
    max_parallel: int = Field(default=4, gt=0, le=64)
    worker_retries: int = Field(default=1, ge=0, le=5)
    worker_max_tokens: int | None = Field(default=None, gt=0)

    @field_validator("workers", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class DraftReviewSpec(_Spec):
    """``drafts`` answers from ``drafter`` in parallel; ``reviewer`` picks the best
    (``pick``: that draft is the answer) or writes the answer from them (``refine``)."""

    drafter: str
    reviewer: str
    drafts: int = Field(default=3, ge=2, le=8)
    mode: Literal["pick", "refine"] = "pick"
    temperature: float | None = Field(default=1.0, ge=0, le=2)


RouteKind = Literal["rules", "ladder", "learned", "agent_loop", "fanout", "draft_review"]


class RouteSpec(_Spec):
    description: str | None = None
    # Optional: names the kind the keys below already imply, for readers of the YAML.
    type: RouteKind | None = None
    # rules route
    rules: tuple[RuleSpec, ...] = ()
    default: str | None = None
    # ladder route
    ladder: tuple[str, ...] | None = None
    validators: tuple[ValidatorSpec, ...] = ()
    # learned route
    learned: LearnedSpec | None = None
    # multi-turn and multi-call routes
    agent_loop: AgentLoopSpec | None = None
    fanout: FanoutSpec | None = None
    draft_review: DraftReviewSpec | None = None
    # any route
    max_cost_usd: float | None = Field(default=None, gt=0)
    # Models a request may move to when the chosen one cannot serve it ("any": every served one).
    fallback: Literal["any", "none"] | tuple[str, ...] = "any"
    shadow: ShadowSpec | None = None
    rollout: RolloutSpec | None = None

    @property
    def kind(self) -> RouteKind:
        if self.ladder is not None:
            return "ladder"
        for kind in ("learned", "agent_loop", "fanout", "draft_review"):
            if getattr(self, kind) is not None:
                return kind  # type: ignore[return-value]
        return "rules"

    @model_validator(mode="after")
    def _one_kind(self) -> RouteSpec:
        keyed = (
            ("ladder", self.ladder),
            ("learned", self.learned),
            ("agent_loop", self.agent_loop),
            ("fanout", self.fanout),
            ("draft_review", self.draft_review),
        )
        kinds = [k for k, v in keyed if v]
        if self.rules or self.default is not None:
            kinds.append("rules/default")
        if len(kinds) != 1:
            given = " and ".join(kinds) if kinds else "none of them"
            raise ValueError(
                "a route has exactly one of `default` (with optional `rules`), `ladder`, "
                f"`learned`, `agent_loop`, `fanout` or `draft_review`; this one has {given}"
            )
        if self.type is not None and self.type != self.kind:
            raise ValueError(
                f"`type: {self.type}` but the route's settings are those of a {self.kind} "
                f"route; give the `{self.type}:` settings"
            )
        if self.kind == "rules" and self.default is None:
            raise ValueError("a rules route needs a `default` model for requests no rule matches")
        if self.ladder is not None and len(self.ladder) == 0:
            raise ValueError("`ladder` needs at least one model")
        if self.validators and self.kind not in ("ladder", "agent_loop"):
            raise ValueError("`validators` only apply to a `ladder` or `agent_loop` route")
        return self

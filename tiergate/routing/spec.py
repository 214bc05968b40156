"""The YAML shape of ``routes:``, validated with pydantic before any policy is built.

Why a schema of its own: a typo in a route (``when: {taks: ...}``) must stop the gateway at
start-up with the route and key named, not route traffic silently to the default. Every model
here is ``extra="forbid"``; ``routes.build_policies`` turns these specs into policies and checks
what pydantic cannot (model names against the catalog, regexes, schemas, callables).

A route is one of six kinds, told apart by which key it has (``type:`` may name it too):
``rules``/``default`` (rules route), ``ladder`` (escalation ladder), ``learned`` (learned router),
``agent_loop`` (per-turn routing of an agent's conversation), ``fanout`` (planner, parallel
workers, composer) and ``draft_review`` (cheap drafts, a strong reviewer).
"""

from __future__ import annotations

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


ValidatorSpec = Annotated[
    JsonSpec | JsonSchemaSpec | RegexSpec | OneOfSpec | MaxLengthSpec | PythonSpec | JudgeSpec,
    Field(discriminator="type"),
]


class LearnedSpec(_Spec):
    router: str
    weak: str | None = None  # default: the router file's weak model
    strong: str | None = None  # default: the router file's strong model
    threshold: float | None = None  # default: the router file's calibrated threshold


class ShadowSpec(_Spec):
    """Send a sample of the route's answered requests to a candidate model too, after the reply:
    its answer is logged beside the served one (``shadows`` table), never returned."""

    model: str
    # Share of answered requests shadowed; a shadow call costs what a real one does.
    sample: float = Field(default=0.1, gt=0, le=1)
    # Shadow calls of this route running at once in one gateway process; past it a request
    # is not shadowed.
    max_in_flight: int = Field(default=8, gt=0)


class RolloutSpec(_Spec):
    """Serve ``percent`` of the route's requests with a candidate model instead."""

    model: str
    percent: float = Field(gt=0, le=100)


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
    a composer merges their answers (``routing/multicall.py``, ``server/multicall.py``)."""

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

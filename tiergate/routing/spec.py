"""The YAML shape of ``routes:``, validated with pydantic before any policy is built.

Why a schema of its own: a typo in a route (``when: {taks: ...}``) must stop the gateway at
start-up with the route and key named, not route traffic silently to the default. Every model
here is ``extra="forbid"``; ``routes.build_policies`` turns these specs into policies and checks
what pydantic cannot (model names against the catalog, regexes, schemas, callables).

A route is one of three kinds, told apart by which key it has:
``rules``/``default`` (rules route), ``ladder`` (escalation ladder), ``learned`` (learned router).
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


class RouteSpec(_Spec):
    description: str | None = None
    # rules route
    rules: tuple[RuleSpec, ...] = ()
    default: str | None = None
    # ladder route
    ladder: tuple[str, ...] | None = None
    validators: tuple[ValidatorSpec, ...] = ()
    # learned route
    learned: LearnedSpec | None = None
    # any route
    max_cost_usd: float | None = Field(default=None, gt=0)
    # Models a request may move to when the chosen one cannot serve it ("any": every served one).
    fallback: Literal["any", "none"] | tuple[str, ...] = "any"
    shadow: ShadowSpec | None = None
    rollout: RolloutSpec | None = None

    @property
    def kind(self) -> Literal["rules", "ladder", "learned"]:
        if self.ladder is not None:
            return "ladder"
        if self.learned is not None:
            return "learned"
        return "rules"

    @model_validator(mode="after")
    def _one_kind(self) -> RouteSpec:
        kinds = [k for k, v in (("ladder", self.ladder), ("learned", self.learned)) if v]
        if self.rules or self.default is not None:
            kinds.append("rules/default")
        if len(kinds) != 1:
            given = " and ".join(kinds) if kinds else "none of them"
            raise ValueError(
                f"a route has exactly one of `default` (with optional `rules`), `ladder` or "
                f"`learned`; this one has {given}"
            )
        if self.kind == "rules" and self.default is None:
            raise ValueError("a rules route needs a `default` model for requests no rule matches")
        if self.ladder is not None and len(self.ladder) == 0:
            raise ValueError("`ladder` needs at least one model")
        if self.validators and self.kind != "ladder":
            raise ValueError("`validators` only apply to a `ladder` route")
        return self

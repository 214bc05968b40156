"""Validator specs from the config -> ready validators, with start-up errors that name the key."""

from __future__ import annotations

import re
from collections.abc import Callable

from tiergate.catalog import ModelInfo
from tiergate.config.routes import (
    AnswerModelSpec,
    ArithmeticSpec,
    FinalAnswerSpec,
    JsonSchemaSpec,
    JsonSpec,
    JudgeSpec,
    MaxLengthSpec,
    OneOfSpec,
    PythonSpec,
    RegexSpec,
    ValidatorSpec,
)
from tiergate.errors import ConfigError, Loc
from tiergate.routing.plan import Validator
from tiergate.routing.validators.answer import (
    AnswerModelValidator,
    ArithmeticValidator,
    FinalAnswerValidator,
)
from tiergate.routing.validators.custom import PythonValidator, load_callable
from tiergate.routing.validators.judge import JudgeClient, JudgeValidator
from tiergate.routing.validators.text import (
    JsonSchemaValidator,
    JsonValidator,
    MaxLengthValidator,
    OneOfValidator,
    RegexValidator,
)


def build_validator(
    spec: ValidatorSpec,
    where: Loc,
    judge: JudgeClient | None,
    check_model: Callable[[str, Loc], ModelInfo],
) -> Validator:
    """``where`` is the key path for errors (``routes.x.validators[2]``); ``check_model``
    resolves a model name or raises ConfigError (the judge must be a served model)."""
    if isinstance(spec, JsonSpec):
        return JsonValidator()
    if isinstance(spec, JsonSchemaSpec):
        import jsonschema

        try:
            return JsonSchemaValidator(spec.schema_)
        except jsonschema.SchemaError as exc:
            raise ConfigError(
                f"not a valid JSON Schema: {exc.message}", (*where, "schema")
            ) from None
    if isinstance(spec, RegexSpec):
        try:
            return RegexValidator(
                spec.pattern, full=spec.match == "full", ignore_case=spec.ignore_case
            )
        except re.error as exc:
            raise ConfigError(f"not a valid regex: {exc}", (*where, "pattern")) from None
    if isinstance(spec, OneOfSpec):
        return OneOfValidator(spec.labels, case_sensitive=spec.case_sensitive)
    if isinstance(spec, MaxLengthSpec):
        return MaxLengthValidator(spec.chars)
    if isinstance(spec, PythonSpec):
        try:
            function = load_callable(spec.callable)
        except ConfigError as exc:
            raise ConfigError(str(exc), (*where, "callable")) from None
        return PythonValidator(function, spec.callable)
    if isinstance(spec, JudgeSpec):
        model = check_model(spec.model, (*where, "model"))
        if judge is None:
            raise ConfigError(
                "a judge validator needs a judge client, and none was given to build_policies",
                where,
            )
        return JudgeValidator(
            judge, model, spec.prompt, pass_if=spec.pass_if, max_tokens=spec.max_tokens
        )
    if isinstance(spec, FinalAnswerSpec):
        return FinalAnswerValidator(numeric=spec.numeric)
    if isinstance(spec, ArithmeticSpec):
        return ArithmeticValidator()
    if isinstance(spec, AnswerModelSpec):
        return AnswerModelValidator.from_file(spec.path, spec.threshold, (*where, "path"))
    raise ConfigError("unknown validator type", where)  # pragma: no cover - pydantic guards

"""Validators decide, after each non-final ladder tier, whether its answer may be returned.

A validator is any object with a ``name`` and ``async check(request, response) -> Verdict``
(the ``Validator`` protocol in ``tiergate.routing.plan``); the built-in ones are built from
the config's ``validators:`` list by ``build_validator``.
"""

from tiergate.routing.validators.answer import (
    AnswerModelValidator,
    ArithmeticValidator,
    FinalAnswerValidator,
)
from tiergate.routing.validators.build import build_validator
from tiergate.routing.validators.custom import PythonValidator, load_callable
from tiergate.routing.validators.judge import JudgeClient, JudgeValidator
from tiergate.routing.validators.text import (
    JsonSchemaValidator,
    JsonValidator,
    MaxLengthValidator,
    OneOfValidator,
    RegexValidator,
)

__all__ = [
    "AnswerModelValidator",
    "ArithmeticValidator",
    "FinalAnswerValidator",
    "JsonSchemaValidator",
    "JsonValidator",
    "JudgeClient",
    "JudgeValidator",
    "MaxLengthValidator",
    "OneOfValidator",
    "PythonValidator",
    "RegexValidator",
    "build_validator",
    "load_callable",
]

"""A function's environment as one typed model. The handler reads and checks it at invocation;
the infrastructure writes the function's variables from the same model, so each variable is
named once and a variable the code needs cannot be left out of the template."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from functions.common.errors import MissingEnvironmentError

if TYPE_CHECKING:
    # typing.Self is 3.11+; the validation job imports this module under the image's Python 3.10.
    from typing import Self

# A variable that is set but blank is as missing as one that is not set.
EnvironmentValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class FunctionEnvironment(BaseModel):
    """Base of every function's settings: each field's alias is its environment variable's name.

    Fields are set by name in the infrastructure (`DATA_BUCKET` is `data_bucket=...`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        unnamed = [name for name, field in cls.model_fields.items() if not field.alias]
        if unnamed:
            raise TypeError(f"{cls.__name__}: fields {unnamed} need an alias naming their environment variable")

    @classmethod
    def from_environment(cls) -> Self:
        """The settings from os.environ; the first missing or blank variable is a MissingEnvironmentError."""
        values: dict[str, str] = {}
        for field in cls.model_fields.values():
            name = field.alias
            assert name is not None  # checked when the class was defined
            value = os.environ.get(name, "").strip()
            if not value:
                raise MissingEnvironmentError(name)
            values[name] = value
        return cls.model_validate(values)

    def to_environment(self) -> dict[str, str]:
        """Environment variable name -> value, as the Lambda function's `Environment` takes it."""
        return self.model_dump(by_alias=True)

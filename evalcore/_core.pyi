"""Types of the compiled evaluation core (evalcore/_core.pyx); the twin has the same surface."""

from collections.abc import Mapping
from typing import Any, Final

from evalcore._core_py import Evaluation as Evaluation

IMPLEMENTATION: Final[str]

class FlagStore:
    def __init__(self) -> None: ...
    def upsert(self, flag: Mapping[str, Any]) -> bool: ...
    def delete(self, key: str, version: int = 0) -> bool: ...
    def clear(self) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def flags(self) -> list[dict[str, Any]]: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object) -> bool: ...
    def is_enabled(
        self, flag_key: str, user_key: str, attributes: Mapping[Any, Any] | None = None
    ) -> bool: ...
    def evaluate(
        self, flag_key: str, user_key: str, attributes: Mapping[Any, Any] | None = None
    ) -> Evaluation: ...
    def get_boolean(
        self,
        flag_key: str,
        user_key: str,
        attributes: Mapping[Any, Any] | None = None,
        default: bool = False,
    ) -> bool: ...
    def get_string(
        self,
        flag_key: str,
        user_key: str,
        attributes: Mapping[Any, Any] | None = None,
        default: str = "",
    ) -> str: ...
    def get_number(
        self,
        flag_key: str,
        user_key: str,
        attributes: Mapping[Any, Any] | None = None,
        default: float = 0,
    ) -> float: ...
    def get_json(
        self,
        flag_key: str,
        user_key: str,
        attributes: Mapping[Any, Any] | None = None,
        default: Any = None,
    ) -> Any: ...

def murmur3_32(data: bytes | bytearray | memoryview | str, seed: int = 0) -> int: ...
def bucket(flag_key: str, user_key: str) -> int: ...

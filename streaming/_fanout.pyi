import array
from collections.abc import Sequence

def send_to_all(fds: Sequence[int], data: bytes, sent: array.array[int]) -> int: ...

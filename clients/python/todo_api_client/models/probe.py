from enum import StrEnum


class Probe(StrEnum):
    LIVE = "live"

    def __str__(self) -> str:
        return str(self.value)

"""A small name -> object registry (fvcore style): ``@REG.register("name")``, duplicates rejected,
lookups that fail name the registry, the choices, and the closest match."""

from __future__ import annotations

from emviz.errors import InputError, did_you_mean

__all__ = ["Registry"]


class Registry:
    """Objects registered under short names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, object] = {}

    def register(self, name: str):
        """Decorator registering its target under ``name``; a second object under the same name is an error."""

        def deco(obj):
            if name in self._items:
                raise KeyError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str):
        try:
            return self._items[name]
        except KeyError:
            raise InputError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._items)}; "
                f"choose from {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name) -> bool:
        return name in self._items

    def __iter__(self):
        return iter(sorted(self._items))

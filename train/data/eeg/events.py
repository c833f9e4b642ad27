"""Event-to-class mappings of EEG recordings, e.g. "T1=left,T2=right" or "769=left,770=right,771=feet".

A mapping names which annotation descriptions of a recording (MNE's `raw.annotations.description`, such as
EEGMMIDB's T1/T2 or the GDF event codes 769-772 of BCI Competition IV 2a) are trials, and the class each one
belongs to. Several events may share a class ("T1=left,769=left"); class indices follow the order in which the
class names first appear, so the same string always gives the same labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from spikeport.errors import DataSourceError

__all__ = ["EventMapping", "parse_event_mapping"]


@dataclass(frozen=True)
class EventMapping:
    """Which events are trials and their classes."""

    event_to_class: Mapping[str, str]
    """Annotation description -> class name, in the order given."""
    class_names: tuple[str, ...]
    """Class names in label order (first appearance in the mapping)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_to_class", MappingProxyType(dict(self.event_to_class)))
        object.__setattr__(self, "class_names", tuple(self.class_names))

    @classmethod
    def from_pairs(cls, pairs: Mapping[str, str]) -> EventMapping:
        """A mapping from {event: class}; class order is the order of first appearance."""
        names: list[str] = []
        for cls_name in pairs.values():
            if cls_name not in names:
                names.append(cls_name)
        return cls(event_to_class=dict(pairs), class_names=tuple(names))

    def label_of(self, event: str) -> int:
        """Class index of an event description (it must be in the mapping)."""
        return self.class_names.index(self.event_to_class[event])

    def as_string(self) -> str:
        """The mapping in the command-line form "EVENT=class,...", which `parse_event_mapping` reads back."""
        return ",".join(f"{ev}={cl}" for ev, cl in self.event_to_class.items())


def parse_event_mapping(text: str, *, field: str = "events") -> EventMapping:
    """Parse "EVENT=class,EVENT=class,..." (spaces around entries are ignored).

    Args:
        text: The mapping string, e.g. "T1=left,T2=right".
        field: Name of the option the string came from, used in error messages (e.g. "--events").

    Returns:
        The mapping; it needs at least two classes, since a decoder of one class is meaningless.

    Raises:
        DataSourceError: Naming the bad entry: no "=", an empty event or class, an event given twice, or fewer
            than two classes.
    """
    if not isinstance(text, str) or not text.strip():
        raise DataSourceError(f"{field}: empty event mapping; give EVENT=class pairs such as 'T1=left,T2=right'")
    pairs: dict[str, str] = {}
    for raw_entry in text.split(","):
        entry = raw_entry.strip()
        if entry.count("=") != 1:
            raise DataSourceError(
                f"{field}: entry {entry!r} of {text!r} is not EVENT=class (exactly one '='); e.g. 'T1=left,T2=right'"
            )
        event, cls_name = (part.strip() for part in entry.split("="))
        if not event or not cls_name:
            raise DataSourceError(f"{field}: entry {entry!r} of {text!r} has an empty event or class name")
        if event in pairs:
            raise DataSourceError(f"{field}: event {event!r} is mapped twice in {text!r}; give each event once")
        pairs[event] = cls_name
    mapping = EventMapping.from_pairs(pairs)
    if len(mapping.class_names) < 2:
        raise DataSourceError(
            f"{field}: {text!r} names only the class {mapping.class_names}; a classifier needs at least two classes"
        )
    return mapping

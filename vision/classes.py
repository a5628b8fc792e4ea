"""The threat classes, defined once for the simulator, training, export, inference and the service.

Index 0 of a segmentation map is background; class ``i`` in ``THREAT_CLASSES`` has map channel ``i + 1``
and COCO category id ``i + 1``.
"""

from __future__ import annotations

THREAT_CLASSES: tuple[str, ...] = (
    "firearm",
    "firearm_part",
    "ammunition",
    "blade",
    "narcotics",
    "cigarettes",
    "cash",
    "wildlife",
    "gemstones",
    "concealment",
)

SCENE_KINDS: tuple[str, ...] = ("parcel", "luggage", "vehicle")

BACKGROUND = "background"


def category_id(name: str) -> int:
    """COCO category id (and segmentation channel) of a threat class.

    Args:
        name: one of ``THREAT_CLASSES``.

    Returns:
        The 1-based id.

    Raises:
        KeyError: if ``name`` is not a known class.
    """
    try:
        return THREAT_CLASSES.index(name) + 1
    except ValueError:
        raise KeyError(f"unknown threat class {name!r}; known: {', '.join(THREAT_CLASSES)}") from None


def coco_categories() -> list[dict[str, object]]:
    """The COCO ``categories`` list for every threat class."""
    return [{"id": i + 1, "name": n, "supercategory": "threat"} for i, n in enumerate(THREAT_CLASSES)]

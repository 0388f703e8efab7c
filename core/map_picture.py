"""The session map as a picture (SVG or PNG), for people who would rather look than listen.

matplotlib draws it, imported here only (``sessionlab map``); each cluster in its
own colour and marker, labelled at its middle with its effective name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ValidationError, storage_error
from core.maps import SessionMap, cluster_styles, style_of
from core.models import Session
from core.text import shown_line

if TYPE_CHECKING:
    import uuid

FORMATS = (".svg", ".png")


def check_out_path(out: Path) -> Path:
    if out.suffix.lower() not in FORMATS:
        raise ValidationError(
            f"The map can be written as .svg or .png, not {out.suffix or 'a file without one'!r}."
        )
    if not out.parent.is_dir():
        raise ValidationError(f"There is no folder {out.parent} to write the map into.")
    return out


def write_map_picture(
    session: Session, session_map: SessionMap, names: dict[uuid.UUID, str], out: Path
) -> Path:
    """Draw ``session_map`` into ``out`` (.svg or .png), written to a temporary name and renamed."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display, whatever the environment says
    from matplotlib import pyplot as plt

    out = check_out_path(out)
    styles = cluster_styles(session)
    labels = {c.id: names.get(c.id) or c.label for c in session.clusters}
    by_cluster: dict[uuid.UUID, list[tuple[float, float]]] = {}
    for p in session_map.points:
        by_cluster.setdefault(p.cluster_id, []).append((p.x, p.y))
    figure, axes = plt.subplots(figsize=(9, 7), dpi=110)
    try:
        for cluster_id, xy in by_cluster.items():
            marker, colour = style_of(styles.get(cluster_id, 0))
            xs, ys = [x for x, _ in xy], [y for _, y in xy]
            label = shown_line(labels.get(cluster_id, "?"))
            axes.scatter(xs, ys, marker=marker, c=colour, s=36, alpha=0.85, label=f"{label} ({len(xy)})")
            axes.annotate(
                label,
                (sum(xs) / len(xs), sum(ys) / len(ys)),
                fontsize=9,
                ha="center",
                va="bottom",
                xytext=(0, 8),
                textcoords="offset points",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": colour, "alpha": 0.8},
            )
        title = shown_line(session.title)
        axes.set_title(title if len(title) <= 70 else title[:69] + "…")
        axes.set_xticks([])
        axes.set_yticks([])
        footer = f"{len(session_map.points)} clips, space {session_map.space}"
        if session_map.missing:
            footer += f"; {session_map.missing} without a vector in it are not shown"
        axes.set_xlabel(footer, fontsize=8)
        if len(by_cluster) <= 16:
            axes.legend(fontsize=8, loc="best", markerscale=0.8)
        temporary = out.with_name(f".{out.name}.part")
        try:
            figure.savefig(temporary, format=out.suffix.lower().lstrip("."), bbox_inches="tight")
            temporary.replace(out)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise storage_error(f"write the map to {out}", exc) from None
    finally:
        plt.close(figure)
    return out

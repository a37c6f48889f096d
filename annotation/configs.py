"""Label Studio label configs generated from an action's taxonomy.

Two project kinds (README, "Annotation rounds in Label Studio"):

* ``differences``: the sample key and video A and B side by side, kept in view (sticky) while one
  ``<Choices name="diff_<key>">`` (a / b / c) per active difference, its statement above it, scrolls below;
  the labelling rule sits above the questions.
* ``timestamps``: the same two videos, each with a ``<TimelineLabels>`` (``tl_a`` / ``tl_b``) holding
  ``key:<loc_id>`` labels (a keypoint is a single-frame region) and ``stage:<name>`` labels (spans).

``frameRate`` always comes from task data (``$fps_a`` / ``$fps_b``), never Label Studio's default of 24.
Small clips are scaled up to the column width (Label Studio itself never draws a video above its native
size), and the timestamps rule tells annotators to click the frame's cell rather than the playhead and
to set the video hop size to 1.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from annotation.taxonomy import ActionTaxonomy
from schemas.errors import ToolkitError

KINDS = ("differences", "timestamps")
RULE = (
    "Label each statement: a = clearly more true of video A, b = clearly more true of video B, "
    "c = no visible difference. Choose c when deciding takes more than about 10 s after finding "
    "the moment. Judge magnitudes relative to body size."
)
TIMESTAMP_RULE = (
    "Mark each keypoint (key:...) on both videos as a single frame: pick the label, type the frame "
    "number into the player's frame box (or step to it), then click THAT FRAME'S CELL in the "
    "timeline row, not the playhead (near the end of a clip the playhead is drawn over the wrong "
    "frame). Drag a stage:... label over the frames the stage spans. The frame-step buttons move "
    "10 frames by default: open the editor's settings (the sliders icon next to Undo/Redo at the bottom), "
    "tab Video, and set 'Video hop size' to 1."
)
VIDEO_CONTROLS = {"a": ("video_a", "tl_a"), "b": ("video_b", "tl_b")}
COMPOSITE = "video_ab"
KEY_PREFIX, STAGE_PREFIX = "key:", "stage:"
STAGE_COLOR, KEY_COLOR = "#4e79a7", "#e15759"
PLAYER_HEIGHT = 280
COLUMN_WIDTH = 380  # about the width of one video column in Label Studio's editor at 1400 px
# Label Studio draws a video at most at its native size, centred in its canvas (small clips stay small).
# ``_style`` scales that canvas up around its centre so the clip fills the player; the timeline is not
# affected and these projects draw nothing on the frames, so no click lands elsewhere. The class names are
# Label Studio 1.23's; on another version the rule is simply ignored.


def video_scale(width: int, height: int) -> float:
    """How much to enlarge a ``width`` x ``height`` clip so it fills the player (1.0: it already does)."""
    return max(1.0, min(PLAYER_HEIGHT / height, COLUMN_WIDTH / width))


def _style(scale: float) -> list[str]:
    if scale <= 1.0:
        return []
    return [
        (
            "  <Style>.viddiff-pair .lsf-video__main { overflow: hidden; } "
            f".viddiff-pair .lsf-video-canvas__view canvas {{ transform: scale({scale:.3f}); "
            "transform-origin: center; }</Style>"
        )
    ]


# Keeps the pair (sample key, both videos) in view while the questions below scroll.
STICKY = "position: sticky; top: 0; z-index: 20; background: #fff; padding-bottom: 6px; border-bottom: 2px solid #ccc;"


def choice_name(diff_key: str) -> str:
    """Control name of a difference: ``diff_<key>``."""
    return f"diff_{diff_key}"


def _a(value: str) -> str:
    return quoteattr(str(value))


def _video_column(side: str, with_timeline: bool, labels: list[tuple[str, str]]) -> str:
    name, tl = VIDEO_CONTROLS[side]
    out = [
        '    <View style="flex: 1; min-width: 0;">',
        f'      <Header value="Video {side.upper()} ($n_frames_{side} frames, $fps_{side} fps)" size="5"/>',
        (
            f'      <Video name="{name}" value="${name}" frameRate="$fps_{side}" height="{PLAYER_HEIGHT}" '
            'timelineHeight="90"/>'
        ),
    ]
    if with_timeline:
        out.append(f'      <TimelineLabels name="{tl}" toName="{name}">')
        out += [f"        <Label value={_a(v)} background={_a(c)}/>" for v, c in labels]
        out.append("      </TimelineLabels>")
    out.append("    </View>")
    return "\n".join(out)


def _videos(
    with_timeline: bool, labels: list[tuple[str, str]], composite: bool, *, sticky: bool
) -> list[str]:
    """The sample key and both videos (kept in view when ``sticky``), then the composite player if any."""
    style = STICKY if sticky else "padding-bottom: 6px;"
    out = [
        f'  <View className="viddiff-pair" style="{style}">',
        '    <Header value="Pair $sample_key" size="4"/>',
        '    <View style="display: flex; gap: 12px;">',
        _video_column("a", with_timeline, labels),
        _video_column("b", with_timeline, labels),
        "    </View>",
        "  </View>",
    ]
    if composite:
        out += [
            '  <View className="viddiff-composite">',
            (
                "    <Header value=\"A | B side by side, time-aligned; captions give each video's frame number "
                '(counted from 1, like the player) and time" size="6"/>'
            ),
            f'    <Video name="{COMPOSITE}" value="${COMPOSITE}" frameRate="$fps_ab" height="{PLAYER_HEIGHT}"/>',
            "  </View>",
        ]
    return out


def differences_config(tax: ActionTaxonomy, *, composite: bool = False, scale: float = 1.0) -> str:
    """Label config of a differences project for one action (one a/b/c choice per active difference);
    ``scale`` enlarges small clips (:func:`video_scale`)."""
    if not tax.differences:
        raise ToolkitError(f"action {tax.action!r} has no active differences to label", file=tax.source)
    out = [
        "<View>",
        *_style(scale),
        *_videos(False, [], composite, sticky=True),
        f'  <Header value={_a(RULE)} size="6"/>',
    ]
    for key, d in tax.differences.items():
        statement = f"[{key}] {d['name']}: {d['description']}"
        out += [
            '  <View style="border-top: 1px solid #ddd; padding-top: 4px;">',
            f'    <Header value={_a(statement)} size="5"/>',
            f'    <Choices name="{choice_name(key)}" toName="video_a" choice="single-radio" showInline="true" '
            'required="true">',
            '      <Choice value="a" hint="more true of video A"/>',
            '      <Choice value="b" hint="more true of video B"/>',
            '      <Choice value="c" hint="no visible difference / cannot tell within about 10 s"/>',
            "    </Choices>",
            "  </View>",
        ]
    out.append("</View>")
    return "\n".join(out) + "\n"


def timeline_labels(tax: ActionTaxonomy) -> list[tuple[str, str]]:
    """``(label value, colour)`` of the timestamps project: stages first, then keypoints."""
    return [(STAGE_PREFIX + s, STAGE_COLOR) for s in tax.stage_names] + [
        (KEY_PREFIX + loc, KEY_COLOR) for loc in tax.keypoints
    ]


def timestamps_config(tax: ActionTaxonomy, *, composite: bool = False, scale: float = 1.0) -> str:
    """Label config of a timestamps project: keypoint and stage TimelineLabels on both videos."""
    labels = timeline_labels(tax)
    if not labels:
        raise ToolkitError(f"action {tax.action!r} has no keypoints or stages to mark", file=tax.source)
    out = [
        "<View>",
        *_style(scale),
        *_videos(True, labels, composite, sticky=False),
        f'  <Header value={_a(TIMESTAMP_RULE)} size="6"/>',
    ]
    details = [
        f"{KEY_PREFIX}{k}: {v.get('description') or v.get('name', '')}" for k, v in tax.keypoints.items()
    ]
    if details:
        out.append(f'  <Header value={_a(" | ".join(details))} size="6"/>')
    out.append("</View>")
    return "\n".join(out) + "\n"


def label_config(kind: str, tax: ActionTaxonomy, *, composite: bool = False, scale: float = 1.0) -> str:
    """The label config of project ``kind`` (``differences`` or ``timestamps``) for one action; ``scale``
    enlarges small clips to the player (:func:`video_scale` of the action's largest clip)."""
    if kind == "differences":
        return differences_config(tax, composite=composite, scale=scale)
    if kind == "timestamps":
        return timestamps_config(tax, composite=composite, scale=scale)
    raise ToolkitError(f"unknown project kind {kind!r}; expected one of {', '.join(KINDS)}", key="--kind")

"""Label Studio label configs generated from an action's taxonomy.

Two project kinds (DESIGN.md, reference/labelstudio.md section 4):

* ``differences``: video A and B side by side, one ``<Choices name="diff_<key>">`` (a / b / c) per active
  difference, its statement shown above it, and the labelling rule visible at the top.
* ``timestamps``: the same two videos, each with a ``<TimelineLabels>`` (``tl_a`` / ``tl_b``) holding
  ``key:<loc_id>`` labels (a keypoint is a single-frame region) and ``stage:<name>`` labels (spans).

``frameRate`` always comes from task data (``$fps_a`` / ``$fps_b``), never Label Studio's default of 24.
"""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from annotation.taxonomy import ActionTaxonomy
from schemas.errors import ToolkitError

KINDS = ("differences", "timestamps")
RULE = ("Label each statement: a = clearly more true of video A, b = clearly more true of video B, "
        "c = no visible difference. Choose c when deciding takes more than about 10 s after finding "
        "the moment. Judge magnitudes relative to body size.")
TIMESTAMP_RULE = ("Mark each keypoint (key:...) with ONE click on the frame where it happens (a single-frame "
                  "region), on both videos. Drag a stage:... label over the frames the stage spans.")
VIDEO_CONTROLS = {"a": ("video_a", "tl_a"), "b": ("video_b", "tl_b")}
COMPOSITE = "video_ab"
KEY_PREFIX, STAGE_PREFIX = "key:", "stage:"
STAGE_COLOR, KEY_COLOR = "#4e79a7", "#e15759"


def choice_name(diff_key: str) -> str:
    """Control name of a difference: ``diff_<key>``."""
    return f"diff_{diff_key}"


def _a(value: str) -> str:
    return quoteattr(str(value))


def _video_column(side: str, with_timeline: bool, labels: list[tuple[str, str]]) -> str:
    name, tl = VIDEO_CONTROLS[side]
    out = [
        '    <View style="flex: 1; min-width: 0;">',
        f'      <Header value="Video {side.upper()}"/>',
        f'      <Video name="{name}" value="${name}" frameRate="$fps_{side}" height="280" timelineHeight="90"/>',
    ]
    if with_timeline:
        out.append(f'      <TimelineLabels name="{tl}" toName="{name}">')
        out += [f"        <Label value={_a(v)} background={_a(c)}/>" for v, c in labels]
        out.append("      </TimelineLabels>")
    out.append("    </View>")
    return "\n".join(out)


def _videos(with_timeline: bool, labels: list[tuple[str, str]], composite: bool) -> list[str]:
    out = ['  <View style="display: flex; gap: 12px;">',
           _video_column("a", with_timeline, labels), _video_column("b", with_timeline, labels), "  </View>"]
    if composite:
        out += ["  <View>", '    <Header value="A | B side by side, time-aligned (for comparing moments)" size="6"/>',
                f'    <Video name="{COMPOSITE}" value="${COMPOSITE}" frameRate="$fps_ab" height="280"/>', "  </View>"]
    return out


def differences_config(tax: ActionTaxonomy, *, composite: bool = False) -> str:
    """Label config of a differences project for one action (one a/b/c choice per active difference)."""
    if not tax.differences:
        raise ToolkitError(f"action {tax.action!r} has no active differences to label", file=tax.source)
    out = ["<View>", f"  <Header value={_a(RULE)} size=\"6\"/>", *_videos(False, [], composite)]
    for key, d in tax.differences.items():
        statement = f"[{key}] {d['name']}: {d['description']}"
        out += [
            '  <View style="border-top: 1px solid #ddd; padding-top: 4px;">',
            f"    <Header value={_a(statement)} size=\"5\"/>",
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
    return ([(STAGE_PREFIX + s, STAGE_COLOR) for s in tax.stage_names]
            + [(KEY_PREFIX + loc, KEY_COLOR) for loc in tax.keypoints])


def timestamps_config(tax: ActionTaxonomy, *, composite: bool = False) -> str:
    """Label config of a timestamps project: keypoint and stage TimelineLabels on both videos."""
    labels = timeline_labels(tax)
    if not labels:
        raise ToolkitError(f"action {tax.action!r} has no keypoints or stages to mark", file=tax.source)
    out = ["<View>", f"  <Header value={_a(TIMESTAMP_RULE)} size=\"6\"/>"]
    details = [f"{KEY_PREFIX}{k}: {v.get('description') or v.get('name', '')}" for k, v in tax.keypoints.items()]
    if details:
        out.append(f"  <Header value={_a(' | '.join(details))} size=\"6\"/>")
    out += [*_videos(True, labels, composite), "</View>"]
    return "\n".join(out) + "\n"


def label_config(kind: str, tax: ActionTaxonomy, *, composite: bool = False) -> str:
    """The label config of project ``kind`` (``differences`` or ``timestamps``) for one action."""
    if kind == "differences":
        return differences_config(tax, composite=composite)
    if kind == "timestamps":
        return timestamps_config(tax, composite=composite)
    raise ToolkitError(f"unknown project kind {kind!r}; expected one of {', '.join(KINDS)}", key="--kind")

"""FineDiving (Olympic diving): one clip per annotated ``(source, instance)`` frame folder.

Layout (from the FineDiving release)::

    ROOT/FINADiving_MTL_256s/<source>/<instance>/00489.jpg …   (absolute frame numbers, 5 or 8 digits)
    ROOT/Trimmed_Video_Frames/FINADiving_MTL_256s/<source>/<instance>/ …   (another published layout)
    ROOT/Annotations/FineDiving_fine-grained_annotation.pkl    {(source, instance): {action_type, dive_score,
                                                                 frames_labels, sub-action_types, …}}
    ROOT/Annotations/FineDiving_coarse_annotation.pkl          {(source, instance): {difficulty, judge_scores, …}}
    ROOT/Annotations/Sub_action_Types_Table.pkl                {id: name}
    ROOT/Annotations/{train,test}_split.pkl  (or ROOT/train_test_split/)

Pickles are read with a restricted unpickler (builtins and numpy arrays only: a pickle cannot run code).
``frames_labels`` holds one label per image in sorted order; runs of equal labels become sub-actions.
When the label count differs from the image count (an old release had e.g. 98 images and 94 labels), the
default ``label_mismatch: skip`` leaves the clip out and says so; ``clamp`` keeps it with sub-actions
over the first ``min(images, labels)`` frames. FineDiving has no official fps: ``fps`` defaults to 12, the
value VidDiff's config uses, which is **unverified upstream** (one demo script says 18; the sub-action
lengths suggest 20-30 fps for the raw frames): every build prints it as an assumption. The data has no
athlete ids, so ``participant`` is null. The height comes from the source name (``10m``/``Platform`` ->
``10m``, ``3m``/``Springboard`` -> ``3m``; also ``Men10mSynchronised``); numeric sources ``'01'`` … ``'26'``
have none unless ``heights`` maps them, and a scan counts the clips without a height.
"""

from __future__ import annotations

from curation.sources.finediving.adapter import FineDivingAdapter
from curation.sources.finediving.layout import label_runs, parse_height, read_pickle

__all__ = ["FineDivingAdapter", "label_runs", "parse_height", "read_pickle"]

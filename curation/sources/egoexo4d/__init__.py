"""Ego-Exo4D (basketball, soccer, music): one clip per downloaded take and camera, resolved via takes.json.

Layout (from the Ego-Exo4D metadata docs)::

    ROOT/takes.json                                       list of takes (take_uid, take_name, root_dir, …)
    ROOT/<root_dir>/frame_aligned_videos/cam01.mp4 …      root_dir already starts with ``takes/``
    ROOT/<root_dir>/frame_aligned_videos/downscaled/448/cam01.mp4 …   (preferred when present)
    ROOT/annotations/proficiency_demonstrator_{train,val}.json        {"annotations": [...]} or a bare list

Every path comes from ``takes.json`` (take names are not regular). Whether a camera is egocentric comes
from the capture's camera list, as the Ego-Exo4D metadata docs define it: ``take["capture"]["cameras"]``
(takes.json carries its capture's metadata), else ``captures.json`` matched by ``capture_uid``; each entry
has ``cam_id``, ``is_ego`` ("for camXX cam_ids this will mostly be false, there are some egocentric
GoPros") and ``device_type``. Only when neither lists a camera is its role taken from its name (``aria*``
= ego), and the scan counts those cameras. An ego camera's view is ``ego`` (an Aria: only its ``rgb``
stream; an egocentric GoPro keeps its cam id as view and matches ``view: ego``); every other camera is exo
(view = cam id). ``best_exo`` and the task times may be null: a take without ``best_exo`` simply has no
``best_exo`` view, a take without task times has no segment. Task times are seconds from the take start;
frame = round(t * fps); an end past the video is clamped to it and counted (``adjusted``).
"""

from __future__ import annotations

from curation.sources.egoexo4d.adapter import EgoExo4DAdapter

__all__ = ["EgoExo4DAdapter"]

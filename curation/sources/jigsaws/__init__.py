"""JIGSAWS (robotic surgery): one clip per trial and endoscope capture (``capture1``/``capture2``).

Layout (the JIGSAWS release), either of the two mirror styles::

    ROOT/<Task>/meta_file_<Task>.txt                ROOT/<Task>_video/video/<Task>_<S><NNN>_capture1.avi
    ROOT/<Task>/video/<Task>_B001_capture1.avi      ROOT/<Task>_kinematic/transcriptions/<Task>_<S><NNN>.txt
    ROOT/<Task>/transcriptions/<Task>_B001.txt      (meta file in any of <Task>/, <Task>_video/, <Task>_kinematic/)

The meta file has empty tab columns (``Suturing_B001\\t\\tN\\t13\\t\\t3\\t2\\t1\\t2\\t2\\t3``): it is parsed by
whitespace into trial, self-reported skill N/I/E, the modified-OSATS GRS (6-30) and six item scores.
Transcriptions are ``start end Gk`` lines on the 30 Hz clock. **Assumption** (unverified upstream, most
loaders agree; it holds on the real Suturing files: smallest start 1, contiguous rows, last end <=
kinematics rows <= video frames): numbers are 1-based and ends inclusive; ``transcription_base`` (1) and
``transcription_end_inclusive`` (true) change that. They become 0-based half-open sub-actions. A
transcription may end up to ``max_overrun`` frames (default 3) past its video: those ends are clamped and
counted (``adjusted``); a video shorter than that (a truncated AVI) is "shorter than its annotations", an
error naming the file and both lengths, or skipped with ``on_bad_media: skip``. The clip's segment is the
first gesture's start to the last gesture's end. Trials without video (``Suturing_H002``) are skipped, and
so is a missing capture of a trial whose other capture exists (each counted with its reason). The real
AVIs are MPEG-4 part 2 (FourCC DX50) at 10000000/333333 fps (30.00003): clips keep that exact rate.
"""

from __future__ import annotations

from curation.sources.jigsaws.adapter import JigsawsAdapter
from curation.sources.jigsaws.layout import parse_meta_file, parse_transcription

__all__ = ["JigsawsAdapter", "parse_meta_file", "parse_transcription"]

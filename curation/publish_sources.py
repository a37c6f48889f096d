"""The source datasets a published clip can come from: licence, link, note and citation of each."""
from __future__ import annotations

import re
from dataclasses import dataclass

VIDDIFF_CITATION = """@inproceedings{burgess2025viddiff,
  title     = {Video Action Differencing},
  author    = {Burgess, James and Wang, Xiaohan and Zhang, Yuhui and Rau, Anita and Lozano, Alejandro and
               Dunlap, Lisa and Darrell, Trevor and Yeung-Levy, Serena},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2025}
}"""


@dataclass(frozen=True)
class SourceInfo:
    """What the card says about one source dataset: name, licence, link, a note, and its citation."""

    title: str
    licence: str
    link: str
    note: str
    citation: str


SOURCES: dict[str, SourceInfo] = {
    "humman": SourceInfo(
        "HuMMan", "S-Lab License 1.0 (non-commercial use only)",
        "https://github.com/caizhongang/humman_toolbox/blob/main/LICENSE",
        "Clips may be used for non-commercial research only.",
        """@inproceedings{cai2022humman,
  title     = {{HuMMan}: Multi-Modal {4D} Human Dataset for Versatile Sensing and Modeling},
  author    = {Cai, Zhongang and Ren, Daxuan and Zeng, Ailing and Lin, Zhengyu and Yu, Tao and Wang, Wenjia and
               Fan, Xiangyu and Gao, Yang and Yu, Yifan and Pan, Liang and Hong, Fangzhou and Zhang, Mingyuan and
               Loy, Chen Change and Yang, Lei and Liu, Ziwei},
  booktitle = {European Conference on Computer Vision (ECCV)},
  year      = {2022}
}"""),
    "egoexo4d": SourceInfo(
        "Ego-Exo4D", "Ego-Exo4D licence (research and commercial use after approval; redistribution forbidden)",
        "https://ego4d.dev/request/ego-exo4d",
        "The licence forbids redistributing the videos: users must obtain them from Ego-Exo4D themselves "
        "(take and frame references are in `videos[i].source`).",
        """@inproceedings{grauman2024egoexo4d,
  title     = {{Ego-Exo4D}: Understanding Skilled Human Activity from First- and Third-Person Perspectives},
  author    = {Grauman, Kristen and others},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2024}
}"""),
    "finediving": SourceInfo(
        "FineDiving", "FineDiving release agreement (signed agreement required; research use)",
        "https://github.com/xujinglin/FineDiving",
        "The data is obtained from the authors after signing their release agreement.",
        """@inproceedings{xu2022finediving,
  title     = {{FineDiving}: A Fine-grained Dataset for Procedure-aware Action Quality Assessment},
  author    = {Xu, Jinglin and Rao, Yongming and Yu, Xumin and Chen, Guangyi and Zhou, Jie and Lu, Jiwen},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2022}
}"""),
    "jigsaws": SourceInfo(
        "JIGSAWS", "JIGSAWS terms (non-commercial research use; access by registration)",
        "https://cirl.lcsr.jhu.edu/research/hmm/datasets/jigsaws_release/",
        "",
        """@inproceedings{gao2014jigsaws,
  title     = {{JHU-ISI} Gesture and Skill Assessment Working Set ({JIGSAWS}): A Surgical Activity Dataset for
               Human Motion Modeling},
  author    = {Gao, Yixin and Vedula, S. Swaroop and Reiley, Carol E. and Ahmidi, Narges and Varadarajan,
               Balakrishnan and Lin, Henry C. and Tao, Lingling and Zappella, Luca and B{\\'e}jar, Benjam{\\'i}n and
               Yuh, David D. and Chen, Chi Chiung Grace and Vidal, Ren{\\'e} and Khudanpur, Sanjeev and
               Hager, Gregory D.},
  booktitle = {MICCAI Workshop: Modeling and Monitoring of Computer Assisted Interventions (M2CAI)},
  year      = {2014}
}"""),
}
#: Spellings seen in the wild (the release writes "humann") mapped to :data:`SOURCES` keys.
ALIASES = {"humann": "humman", "egoexo": "egoexo4d", "finadiving": "finediving"}


def source_key(name: str) -> str:
    """Normalise a ``source_dataset`` spelling ("humann", "EgoExo4D", "Ego-Exo4D") to a registry key."""
    key = re.sub(r"[^a-z0-9]", "", (name or "").lower())
    return ALIASES.get(key, key)

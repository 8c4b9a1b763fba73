"""Writes the seed corpus of fuzz_config into the folder given as argument:
the shipped configurations, and a few small or broken ones."""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, "..", "..", "share", "configs")


def main(out):
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(CONFIGS)):
        if name.endswith(".json"):
            shutil.copy(os.path.join(CONFIGS, name), os.path.join(out, name))
    seeds = {
        "empty-object": b"{}",
        "comment": b'{"_why": "a comment", "format": "rrsis-config/1", "name": "x"}',
        "sections": b'{"swin": {"embed_dim": 32, "depths": [1, 1, 1, 1], "num_heads": [1, 2, 4, 8]},'
                    b' "ifim": {"psr_levels": [1, 2], "psr_rescale": "none"},'
                    b' "loss": {"dice_batch_reduction": "sum"}, "text": {"max_len": 2}}',
        "bad-type": b'{"image_size": "480"}',
        "bad-format": b'{"format": "rrsis-config/2"}',
        "unknown": b'{"swin": {"depth": 3}}',
        "not-object": b"[1, 2]",
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])

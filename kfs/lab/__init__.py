"""The machines the course runs on: the netns lab (default) and, for laptops, Vagrant."""
from kfs.lab.errors import LabError
from kfs.lab.lab import Lab
from kfs.lab.stages import STAGES

__all__ = ["Lab", "LabError", "STAGES"]

"""The machines the course runs on: the netns lab (default) and, for laptops, Vagrant.

``lab.py`` is the lab and its record, ``machine.py`` a machine (what the stages may ask of
one, and the netns lab's), ``vm.py`` the Vagrant lab's VM, ``netns.py`` the wires,
``supervisor.py`` the processes; ``stages/`` brings the lab to each step of the course, one
module per step (``machines``, ``kubelet``, ``apiserver``, ...), each starting its
component's ``kfs`` command. The components themselves never import the lab.
"""
from kfs.lab.errors import LabError
from kfs.lab.lab import Lab
from kfs.lab.stages import STAGES

__all__ = ["Lab", "LabError", "STAGES"]

"""The ``kfs`` command: the lab, the images, the main job, and (later) every component binary.

Each component of the course is its own subcommand and runs as its own OS process, as the
real binaries do: ``kfs apiserver``, ``kfs kubelet``, ``kfs scheduler`` ... ``COMPONENTS``
names the module of each: its docstring's first line is the command's help, its
``add_arguments(parser)`` declares the flags (upstream's names), its ``main(args)`` runs it.
A component whose module does not exist yet is simply not offered.
"""
import argparse
import importlib
import os
import sys

from kfs.lab import stages

# subcommand -> module with add_arguments(parser) and main(args)
COMPONENTS = {
    "apiserver": "kfs.apiserver.main",
    "kubelet": "kfs.kubelet.main",
    "scheduler": "kfs.scheduler.main",
    "controller-manager": "kfs.controllers.main",
    "cloud-controller-manager": "kfs.cloud.main",
    "proxy": "kfs.proxy.main",
    "flanneld": "kfs.flannel.main",
    "dns": "kfs.dns.main",
    "load-balancer": "kfs.cloud.loadbalancer",
}


def component_module(name):
    """The module of a component, or None if kfs does not have it yet."""
    module = COMPONENTS[name]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            return None
        raise


def lab_commands(sub):
    lab = sub.add_parser("lab", help="the machines the course runs on").add_subparsers(
        dest="lab_command", required=True, metavar="COMMAND")
    up = lab.add_parser("up", help="create or repair the lab, bring it to a stage")
    up.add_argument("--nodes", type=int, help="number of node machines (default: 2, or as is)")
    up.add_argument("--stage", choices=stages.STAGES,
                    help="the course step to bring the lab to (default: the lab's current "
                    "stage, or machines for a new lab)")
    up.add_argument("--etcd-members", type=int, choices=(1, 3),
                    help="etcd on cp only (1, the default) or on cp, node1 and node2 (3)")
    up.add_argument("--lab", choices=("netns", "vagrant"),
                    help="the machines: netns (namespaces on this host, the default) or "
                    "vagrant (the VMs of labs/Vagrantfile; run on cp, as its provisioner does)")
    lab.add_parser("down", help="remove everything the lab created")
    add = lab.add_parser("add-node", help="a new machine whose kubelet joins with a bootstrap "
                         "token (TLS bootstrapping: its CSR approved and signed)")
    add.add_argument("name", nargs="?", help="its name (default: the next nodeN)")
    rm = lab.add_parser("remove-node", help="drain a node added with add-node, delete its "
                        "machine and its Node")
    rm.add_argument("name")
    stop = lab.add_parser("stop-node", help="stop a node's machine (every daemon; its disk "
                          "kept): kfs lab up leaves it stopped")
    stop.add_argument("name")
    start = lab.add_parser("start-node", help="start a node stop-node stopped: its daemons "
                           "again, as kfs lab up repairs them")
    start.add_argument("name")
    lab.add_parser("status", help="machines, addresses, daemons and their PIDs")
    lab.add_parser("kubeconfig", help="print the path of the admin kubeconfig "
                   "(export KUBECONFIG=$(kfs lab kubeconfig))")
    ex = lab.add_parser("exec", help="run a command on a machine: kfs lab exec node1 -- docker ps")
    ex.add_argument("machine")
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    logs = lab.add_parser("logs", help="a component's log (dockerd, kubelet, apiserver, ...)")
    logs.add_argument("component")
    logs.add_argument("--machine", "-m", help="only this machine's (default: all that have it)")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=100)


def build_parser():
    parser = argparse.ArgumentParser(prog="kfs", description="Kubernetes from scratch")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lab_commands(sub)
    images = sub.add_parser("images", help="the course's offline images").add_subparsers(
        dest="images_command", required=True, metavar="COMMAND")
    images.add_parser("build", help="build the images, load them into running lab machines")
    sub.add_parser("demo", help="the main job: the lab up and the whole talk (the basic "
                   "flow, NodePorts, a LoadBalancer)")
    course = sub.add_parser("course", help="the course itself").add_subparsers(
        dest="course_command", required=True, metavar="COMMAND")
    from kfs.course import render
    render.add_arguments(course.add_parser(
        "render", help="execute the notebooks on the lab and write them as HTML pages"))
    for name in COMPONENTS:
        mod = component_module(name)
        if mod:
            mod.add_arguments(sub.add_parser(name, help=mod.__doc__.strip().splitlines()[0]))
    return parser


def lab_main(args):
    from kfs.lab.errors import LabError
    from kfs.lab.lab import Lab
    from kfs.lab.status import print_status
    lab = Lab()
    cmd = args.lab_command
    if cmd == "up":
        lab.up(nodes=args.nodes, stage=args.stage, etcd_members=args.etcd_members,
               kind=args.lab)
        print_status(lab)
    elif cmd == "kubeconfig":
        if not lab.admin_kubeconfig.exists():
            raise LabError("the lab has no API server yet: kfs lab up --stage apiserver")
        print(lab.admin_kubeconfig)
    elif cmd == "down":
        lab.down()
        print(f"lab {lab.name!r} is down")
    elif cmd == "status":
        print_status(lab)
    elif cmd == "add-node":
        from kfs.lab.nodes import add_node
        m = add_node(lab, args.name)
        print(f"node {m.name} ({m.ip}) joined the cluster")
    elif cmd == "remove-node":
        from kfs.lab.nodes import remove_node
        remove_node(lab, args.name)
        print(f"node {args.name} removed")
    elif cmd == "stop-node":
        from kfs.lab.nodes import stop_node
        stop_node(lab, args.name)
        print(f"node {args.name} is stopped (kfs lab start-node {args.name} starts it)")
    elif cmd == "start-node":
        from kfs.lab.nodes import start_node
        start_node(lab, args.name)
        print(f"node {args.name} is running")
    elif cmd == "exec":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        m = lab.machine(args.machine)
        interactive = not argv
        argv = m.command(argv or ["/bin/sh"], m.env)
        if interactive and argv[0] == "ssh":   # a VM's shell: a terminal for it
            argv.insert(1, "-t")
        os.execvpe(argv[0], argv, dict(os.environ, **m.env))
    elif cmd == "logs":
        machines = [lab.machine(args.machine)] if args.machine else lab.machines + lab.appliances
        if args.machine and getattr(machines[0], "here", True) is False:  # a VM kfs is not on
            m = machines[0]
            argv = m.command(["tail", "-n", str(args.lines), *(["-F"] if args.follow else []),
                              m.dir / f"{args.component}.log"])
            os.execvp(argv[0], argv)
        files = [m.dir / f"{args.component}.log" for m in machines]
        files = [str(f) for f in files if f.exists()]
        if not files:
            raise SystemExit(f"kfs: no {args.component} log in the lab "
                             f"(logs are in {lab.dir}/<machine>/<component>.log)")
        os.execvp("tail", ["tail", "-n", str(args.lines), *(["-F"] if args.follow else []), *files])


def images_main(args):
    from kfs import images
    from kfs.lab.lab import Lab
    built = images.build()
    print(f"images built: {', '.join(built)}" if built else "images are up to date")
    lab = Lab()
    for m in lab.machines if lab.exists else []:
        if m.docker_ready():
            loaded = images.load(m.docker_endpoint)
            if loaded:
                print(f"{m.name}: loaded {', '.join(loaded)}")


def demo_main(args):
    from kfs import demo
    demo.main(args)


def main(argv=None):
    args = build_parser().parse_args(argv)
    from kfs.lab.errors import LabError
    try:
        if args.command == "lab":
            lab_main(args)
        elif args.command == "images":
            images_main(args)
        elif args.command == "demo":
            demo_main(args)
        elif args.command == "course":
            from kfs.course import render
            return render.main(args)
        else:
            return component_module(args.command).main(args)
    except LabError as e:
        print(f"kfs: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Options that several commands share: choosing backbones (compare, rank, bench, list), the data, the
executor, MLflow and the store (compare and rank)."""

from pathlib import Path

import click


def _options(*options):
    """Several click options as one decorator (shared by compare and rank)."""
    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


data_options = _options(
    click.option("--dataset", default="cifar10", show_default=True, metavar="NAME[:ARG][,...]",
                 help="Registered datasets (`zoo datasets`), comma-separated: cifar10, cifar100[:coarse], mnist, "
                      "fashion_mnist, folder:PATH, synthetic..."),
    click.option("--data-dir", type=click.Path(path_type=Path),
                 help="Read the dataset from local files in its published format (`zoo datasets` says which). "
                      "Default: Keras's download and cache."),
    click.option("--strict", is_flag=True, help="Stop (exit 2, naming it) at a file in a folder that is not a "
                 "readable image, rather than skip it."))
executor_options = _options(
    click.option("--executor", type=click.Choice(["local", "process", "ray"]), default="local", show_default=True,
                 help="Where trials run: this process, a fresh process each, or Ray tasks."),
    click.option("--jobs", type=click.IntRange(min=1), help="--executor process: trials at a time (default 1)."),
    click.option("--address", help="--executor ray: 'auto' or ray://host:port joins a cluster (default: a local Ray)."),
    click.option("--cpus-per-trial", type=click.FloatRange(min=0), help="--executor ray: CPUs each trial asks for "
                 "(default 1)."),
    click.option("--gpus-per-trial", type=click.FloatRange(min=0), help="--executor ray: GPUs each trial asks for "
                 "(default 0)."))
mlflow_options = _options(
    click.option("--mlflow", is_flag=False, flag_value="", default=None, metavar="[URI]",
                 help="Log every trial as an MLflow run, to URI (default: MLFLOW_TRACKING_URI, which also turns "
                      "this on when set). Needs pip install \"zoo[mlflow]\"."),
    click.option("--experiment", metavar="NAME", help="--mlflow: the experiment (default: the dataset's name)."))
no_store_option = click.option("--no-store", is_flag=True, help="Neither read nor keep features in the feature "
                               "store (`zoo cache info` says where it is).")


def selection_options(command):
    """--max-params and --max-gmacs, for the commands that choose backbones (zoo.backbones.selection)."""
    command = click.option("--max-gmacs", type=click.FloatRange(min=0), metavar="G",
                           help="Only backbones that cost at most G GMACs per image at their default size.")(command)
    return click.option("--max-params", metavar="N", help="Only backbones with at most N parameters "
                        "without the top (25M, 500k...).")(command)


def backbone_choice(command):
    """NAME... (wildcards) or --all, within --max-params and --max-gmacs: how compare, rank and bench
    choose their backbones (zoo.backbones.selection.choose checks the choice)."""
    command = selection_options(command)
    command = click.option("--all", "all_", is_flag=True,
                           help="Every registered backbone (within --max-params, --max-gmacs).")(command)
    return click.argument("names", nargs=-1, metavar="[NAME]...")(command)

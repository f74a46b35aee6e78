"""Checks that run after parsing and before any work: where the outputs go, and whether the model fits.

Each raises `UsageError`; `main` reports it like an argparse error (one line naming the option, exit
status 2), so a command never trains for minutes and then fails on its output path or runs out of memory.
"""

import itertools
import os
import re

# Bytes per float of the models the commands build (the default dtype, float32).
FLOAT_BYTES = 4
# Copies of every parameter while training: the weights, their gradients and Adam's two moments.
TRAINING_COPIES = 4
# Copies of every activation: the output of each Linear and of its activation, and their gradients.
ACTIVATION_COPIES = 4


class UsageError(Exception):
    """A command-line value that parsed but cannot work; the message names the option."""


def check_output_directory(path, option="--out"):
    """`path` is, or can be made, a writable directory."""
    if not path:
        raise UsageError(f"argument {option}: expected a directory, got an empty path")
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise UsageError(f"argument {option}: {path!r} exists and is not a directory")
        _check_writable(path, option, path)
    else:
        _check_creatable(path, option)


def check_output_file(path, kind, example, option="--out"):
    """`path` names a file that can be written, in a directory that is or can be made; `kind` and `example`
    describe it in the messages ("SVG", "graph.svg")."""
    if not path:
        raise UsageError(
            f"argument {option}: expected the {kind} file to write, such as {example!r}, got an empty path"
        )
    if os.path.isdir(path):
        raise UsageError(
            f"argument {option}: {path!r} is a directory; give the {kind} file to write, e.g. "
            f"{os.path.join(path, example)!r}"
        )
    if _stream_link(path):
        raise UsageError(
            f"argument {option}: {path!r} is a link to a file descriptor (a stream such as "
            f"stdout); give the {kind} file to write, such as {example!r}"
        )
    if os.path.exists(path) and not os.path.isfile(path):
        raise UsageError(
            f"argument {option}: {path!r} exists and is not a regular file (a pipe or device, "
            f"which writing it would replace); give the {kind} file to write, such as {example!r}"
        )
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(directory):
        _check_writable(directory, option, path)
    else:
        _check_creatable(directory, option, path)


def _stream_link(path):
    """Whether `path` is, through its symlinks, a link into /dev/fd or /proc/<pid>/fd (as /dev/stdout is):
    files are written by renaming a new one over the target, which would replace, not write to, whatever
    the descriptor is (a regular file that stdout is redirected to, say)."""
    for _ in range(40):  # the kernel's own limit on links followed
        if not os.path.islink(path):
            return False
        path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
        if re.match(r"/(dev|proc/[^/]+)/fd/", path):
            return True
    return False


def _check_creatable(directory, option, given=None):
    """`directory`, or its nearest existing ancestor, is a writable directory, so makedirs can succeed."""
    ancestor = os.path.abspath(directory)
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UsageError(
            f"argument {option}: cannot create {given or directory!r}: {ancestor!r} is a file, not a directory"
        )
    _check_writable(ancestor, option, given or directory)


def _check_writable(directory, option, given):
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"argument {option}: cannot write {given!r}: {directory!r} is not writable")


def physical_memory():
    """This machine's physical memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def mlp_training_bytes(sizes, rows):
    """A lower bound of the memory an MLP through `sizes` takes to train on `rows` rows at a time."""
    parameters = sum(fan_in * fan_out + fan_out for fan_in, fan_out in itertools.pairwise(sizes))
    activations = rows * sum(sizes)
    return FLOAT_BYTES * (TRAINING_COPIES * parameters + ACTIVATION_COPIES * activations)


def check_mlp_fits(sizes, rows, options):
    """Refuse an MLP through `sizes` on `rows` rows at a time that cannot fit in this machine's memory;
    `options` names the options that chose them (e.g. "--model and --batch-size")."""
    needed = mlp_training_bytes(sizes, rows)
    available = physical_memory()
    if available is not None and needed > available:
        shown = ", ".join(map(str, sizes)) if len(sizes) <= 8 else f"{sizes[0]}, {sizes[1]}, ... ({len(sizes)} widths)"
        raise UsageError(
            f"{options}: an MLP ({shown}) on {rows:,} rows at a time needs at least "
            f"{_gigabytes(needed)} of memory and this machine has {_gigabytes(available)}; "
            f"choose smaller values"
        )


def _gigabytes(size):
    return f"{size / 1e9:.3g} GB"

"""Variable-length batches for the recurrent layers, as PyTorch's `torch.nn.utils.rnn`.

A `PackedSequence` holds the time steps of a batch of sequences sorted by decreasing length, step
after step: `data` (sum of lengths, *features) holds, for each step t, the elements of the
`batch_sizes[t]` sequences still running at t. `sorted_indices[j]` is the original batch index of
the j-th longest sequence (None when the batch came sorted), `unsorted_indices` its inverse.

Packing and unpacking are each one graph node (a gather and a scatter of the elements), so
gradients flow from the packed data back to the padded input and the other way.
"""

from collections import namedtuple

import numpy as np

import autograd_core as ag

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence"]


def _int64(values):
    return np.asarray(values).astype(np.int64)


def _optional_indices(indices):
    return None if indices is None else ag.Tensor(_int64(indices))


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices); the index fields are int64 Tensors or None.
    Given `sorted_indices` alone, `unsorted_indices` is its inverse permutation."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = np.argsort(_int64(sorted_indices))
        return super().__new__(
            cls,
            ag.as_tensor(data),
            ag.Tensor(_int64(batch_sizes)),
            _optional_indices(sorted_indices),
            _optional_indices(unsorted_indices),
        )

    @property
    def is_sorted(self):
        return self.sorted_indices is None


def _positions(batch_sizes, sorted_indices):
    """(time index, original batch index) of each row of the packed data, in packed order."""
    steps = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    ranks = np.concatenate([np.arange(n) for n in batch_sizes]) if len(batch_sizes) else np.zeros(0, np.int64)
    return steps, ranks if sorted_indices is None else sorted_indices[ranks]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (L, B, *) ((B, L, *) with batch_first) of sequences of the given lengths.

    With enforce_sorted=True the lengths must decrease (non-strictly); with False the batch is
    sorted here and the permutation kept in the result's sorted_indices / unsorted_indices."""
    input = ag.as_tensor(input)
    lengths = _int64(lengths)
    if input.ndim < 2:
        raise ValueError(
            f"pack_padded_sequence: expected a padded input of at least 2 dimensions, got shape {input.shape}"
        )
    batch_axis, time_axis = (0, 1) if batch_first else (1, 0)
    batch, steps = input.shape[batch_axis], input.shape[time_axis]
    if lengths.shape != (batch,):
        raise ValueError(
            f"pack_padded_sequence: expected {batch} lengths (one per sequence of the input of shape "
            f"{input.shape}, batch_first={batch_first}), got lengths of shape {lengths.shape}"
        )
    if lengths.size and (lengths.min() < 1 or lengths.max() > steps):
        raise ValueError(
            f"pack_padded_sequence: every length must lie in [1, {steps}] (the padded length of the "
            f"input of shape {input.shape}, batch_first={batch_first}), got {lengths.tolist()}"
        )
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(
                f"pack_padded_sequence: lengths must be sorted in decreasing order when "
                f"enforce_sorted=True, got {lengths.tolist()}; pass enforce_sorted=False to have "
                "them sorted"
            )
        sorted_indices = None
    else:
        sorted_indices = np.argsort(-lengths, kind="stable")
    batch_sizes = np.count_nonzero(lengths[None, :] > np.arange(lengths.max(initial=0))[:, None], axis=1)
    steps_index, batch_index = _positions(batch_sizes, sorted_indices)
    data = input[(batch_index, steps_index) if batch_first else (steps_index, batch_index)]
    return PackedSequence(data, batch_sizes, sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo `pack_padded_sequence`: returns (padded (T, B, *) or (B, T, *), lengths) in the original
    batch order, T = total_length or the longest length, padded with padding_value."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    batch_sizes = _int64(sequence.batch_sizes)
    sorted_indices = None if sequence.sorted_indices is None else _int64(sequence.sorted_indices)
    longest = len(batch_sizes)
    if total_length is None:
        total_length = longest
    elif total_length < longest:
        raise ValueError(
            f"pad_packed_sequence: total_length must be at least the length of the longest sequence "
            f"({longest}), got total_length={total_length}"
        )
    batch = int(batch_sizes[0]) if longest else 0
    data = sequence.data
    steps_index, batch_index = _positions(batch_sizes, sorted_indices)
    shape = (total_length, batch) if not batch_first else (batch, total_length)
    index = (batch_index, steps_index) if batch_first else (steps_index, batch_index)
    padded = ag.full(shape + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    padded[index] = data  # recorded as an in-place op: the gradient of data is the gradient at index
    lengths_sorted = np.count_nonzero(batch_sizes[None, :] > np.arange(batch)[:, None], axis=1)
    lengths = lengths_sorted if sorted_indices is None else lengths_sorted[_int64(sequence.unsorted_indices)]
    return padded, ag.Tensor(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into (L_max, B, *) ((B, L_max, *) with batch_first), padding
    each with padding_value on the right (or the left, padding_side="left")."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    sequences = [ag.as_tensor(s) for s in sequences]
    if not sequences:
        raise ValueError("pad_sequence: expected at least one sequence")
    trailing = {s.shape[1:] for s in sequences if s.ndim >= 1}
    if len(trailing) != 1 or any(s.ndim == 0 for s in sequences):
        raise ValueError(
            f"pad_sequence: every sequence must have the shape (L_i, *) with the same trailing "
            f"dimensions, got shapes {[s.shape for s in sequences]}"
        )
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        steps = (0, extra) if padding_side == "right" else (extra, 0)
        padded.append(s.pad(pad_width=(steps,) + ((0, 0),) * (s.ndim - 1), value=padding_value) if extra else s)
    return ag.stack(padded, axis=0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences of shapes (L_i, *): `pack_padded_sequence(pad_sequence(sequences), lengths)`."""
    sequences = [ag.as_tensor(s) for s in sequences]
    padded = pad_sequence(sequences)
    return pack_padded_sequence(padded, [s.shape[0] for s in sequences], enforce_sorted=enforce_sorted)

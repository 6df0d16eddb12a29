"""The tree of ranks and its frames, without MPI: every rank gets its own message, rank 0 every reply.

A simulation passes the frames down the tree as the ranks do (``Tree.frames`` on rank 0,
``open_frame`` then ``Tree.forward`` or ``Tree.frames`` on a rank with children) and the replies up
(``merged_reply``), up to 40 ranks.
"""

from __future__ import annotations

import math

import pytest

from scatterpool.mpi._protocol import SEQ
from scatterpool.mpi._tree import HEADER, MERGED, REPLIES, UNIFORM, Tree, merged_reply, open_frame, unpack_merged

SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 40]


@pytest.mark.parametrize("size", SIZES)
def test_the_tree_covers_every_rank_once_in_contiguous_subtrees(size):
    trees = [Tree(size, r) for r in range(size)]
    assert len(trees[0].children) == math.ceil(math.log2(size)) if size > 1 else trees[0].children == []
    seen = [0] * size
    for t in trees:
        for c in t.children:
            seen[c] += 1
            assert trees[c].parent == t.rank
            assert trees[c].end == t.ends[c]  # the child's own idea of its subtree
            assert all(t.child_of(w) == c for w in range(c, t.ends[c]))
    assert seen == [0] + [1] * (size - 1)
    depth = [0] * size
    for r in range(1, size):
        depth[r] = depth[trees[r].parent] + 1
    assert max(depth) == trees[0].depth <= math.ceil(math.log2(size))
    if size & (size - 1) == 0:
        assert trees[0].depth == math.ceil(math.log2(size))


def deliver(size: int, messages: dict[int, bytes], replies: bool) -> tuple[dict[int, bytes], int]:
    """Passes ``messages`` from rank 0 down the tree; what each rank kept, and rank 0's number of sends."""
    got: dict[int, bytes] = {}
    root = Tree(size, 0)
    sends = root.frames(messages, REPLIES if replies else 0, 7.5)
    queue = list(sends)
    while queue:
        rank, data = queue.pop()
        tree = Tree(size, rank)
        if not tree.children:
            got[rank] = bytes(data)
            continue
        flags, timeout, content = open_frame(data)
        assert (flags, timeout) == (REPLIES if replies else 0, 7.5)
        if isinstance(content, dict):
            own = content.pop(rank, None)
            queue += tree.frames(content, flags, timeout)
        else:
            assert HEADER.unpack_from(data)[0] == UNIFORM
            own = content
            queue += tree.forward(data, content)
        if own is not None:
            got[rank] = bytes(own)
    return got, len(sends)


@pytest.mark.parametrize("size", SIZES)
def test_the_same_message_for_every_rank(size):
    message = SEQ.pack(5) + b"the same command"
    got, sends = deliver(size, dict.fromkeys(range(1, size), message), True)
    assert got == dict.fromkeys(range(1, size), message)
    assert sends == len(Tree(size, 0).children)


@pytest.mark.parametrize("size", SIZES)
def test_a_message_per_rank_and_shared_ones(size):
    shared = SEQ.pack(6) + b"shared"
    messages = {w: (shared if w % 3 == 0 else SEQ.pack(6) + f"rank {w} ".encode() * w) for w in range(1, size)}
    got, _ = deliver(size, messages, True)
    assert got == messages


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pick", ["last", "one_in_three", "middle"])
def test_some_ranks_only(size, pick):
    ranks = {"last": [size - 1], "one_in_three": list(range(1, size, 3)), "middle": [size // 2]}[pick]
    ranks = [w for w in ranks if w > 0]
    messages = {w: SEQ.pack(7) + f"only {w}".encode() for w in ranks}
    got, _ = deliver(size, messages, False)
    assert got == messages


@pytest.mark.parametrize("size", SIZES)
def test_replies_merge_up_to_rank_0(size):
    seq = 9

    def reply(w: int) -> bytes:
        return SEQ.pack(seq) + f"value of {w}".encode() * (w % 4 + 1)

    def up(rank: int) -> bytes:
        """What ``rank`` sends its parent: its reply, merged with its children's if it has any."""
        tree = Tree(size, rank)
        if not tree.children:
            return reply(rank)
        received = [(c, up(c)) for c in tree.children]
        return merged_reply(SEQ.pack(seq | MERGED), (rank, reply(rank)), received, seq)

    replies: dict[int, bytes] = {}
    for c in Tree(size, 0).children:
        message = up(c)
        if SEQ.unpack_from(message)[0] == seq:
            replies[c] = message
        else:
            unpack_merged(message, replies)
    assert {w: bytes(m) for w, m in replies.items()} == {w: reply(w) for w in range(1, size)}

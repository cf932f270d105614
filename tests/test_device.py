"""How the CPU allocates: freed memory is kept for the next layer, unless switched off."""

import platform
import resource

import pytest
import torch

from sr_core.device import keep_freed_cpu_memory
from sr_core.settings import CPU_KEEP_FREED

BLOCK_BYTES = 64 * 2**20
PAGES = BLOCK_BYTES // resource.getpagesize()


def _page_faults_of(run) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    run()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _fill_a_block(bytes_: int = BLOCK_BYTES) -> None:
    torch.ones(bytes_ // 4).add_(1)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator settings are glibc's")
def test_a_freed_block_is_reused_without_faulting_its_pages_in_again(monkeypatch):
    monkeypatch.setenv(CPU_KEEP_FREED.name, "1")
    assert keep_freed_cpu_memory()
    _fill_a_block()
    # A little smaller, as the next layer's output of another image is: glibc's defaults would
    # map it afresh and fault in all of its pages.
    assert _page_faults_of(lambda: _fill_a_block(BLOCK_BYTES * 15 // 16)) < PAGES // 10


def test_switched_off_it_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv(CPU_KEEP_FREED.name, "0")
    assert keep_freed_cpu_memory() is False

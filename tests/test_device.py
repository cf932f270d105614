"""How the CPU allocates: freed memory is kept for the next layer, in any thread, unless switched off."""

import os
import platform
import subprocess
import sys

import pytest

from sr_core.device import keep_freed_cpu_memory
from sr_core.settings import CPU_KEEP_FREED

# Run in a fresh process: how glibc serves a block depends on the heap that earlier tests left.
# It sets the allocator up on the main thread, as app.launch does, then fills a 64 MB block, frees
# it and fills a slightly smaller one (as the next layer's output of another image is) on the
# thread named, and prints how many pages that second fill faulted in out of how many it has.
REUSE_PROBE = """
import resource, sys, threading
import torch
from sr_core.device import keep_freed_cpu_memory

BLOCK_BYTES = 64 * 2**20
keep_freed_cpu_memory()

def fill(nbytes):
    torch.ones(nbytes // 4).add_(1)

def faults_of_the_next_block():
    fill(BLOCK_BYTES)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fill(BLOCK_BYTES * 15 // 16)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, BLOCK_BYTES * 15 // 16 // resource.getpagesize())

if sys.argv[1] == "worker":
    worker = threading.Thread(target=faults_of_the_next_block)
    worker.start()
    worker.join()
else:
    faults_of_the_next_block()
"""


def _faults_and_pages_of_the_next_block(thread: str, keep_freed: str) -> tuple[int, int]:
    env = {**os.environ, CPU_KEEP_FREED.name: keep_freed}
    printed = subprocess.run(
        [sys.executable, "-c", REUSE_PROBE, thread], env=env, capture_output=True, text=True, check=True
    ).stdout
    faults, pages = printed.split()
    return int(faults), int(pages)


glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator settings are glibc's")


@glibc_only
@pytest.mark.parametrize("thread", ["main", "worker"])
def test_a_freed_block_is_reused_without_faulting_its_pages_in_again(thread):
    faults, pages = _faults_and_pages_of_the_next_block(thread, keep_freed="1")
    assert faults < pages // 10


@glibc_only
@pytest.mark.parametrize("thread", ["main", "worker"])
def test_with_glibcs_defaults_the_next_block_faults_in_afresh(thread):
    faults, pages = _faults_and_pages_of_the_next_block(thread, keep_freed="0")
    assert faults > pages // 2


def test_switched_off_it_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv(CPU_KEEP_FREED.name, "0")
    assert keep_freed_cpu_memory() is False

# The compiled twins' copy of redispool/slot_codes.py (a .pyx cannot cimport a Python
# module's constants): the same names, prefixed C_, with the same values. Cimported by
# _slots_c.pyx, which exports them under their Python names, and _pack_c.pyx;
# tests/test_slots.py checks that redispool._slots_c and redispool.slot_codes agree.

# SlotArray.checkout() codes
cdef enum:
    C_READY = 0
    C_CHECK = 1
    C_RENEW = 2
    C_NEW = 3
    C_FULL = 4

# SlotArray.release() flags
cdef enum:
    C_RELEASED = 1
    C_CLOSE = 2
    C_WAITERS = 4
    C_REAP = 8
    C_FORKED = 16

# socket codes: fd values that are not descriptors (DIRTY: Packer.lend_fd only)
cdef enum:
    C_NO_SOCKET = -1
    C_OPAQUE_SOCKET = -2
    C_DIRTY = -3

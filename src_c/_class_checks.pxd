# What both compiled command paths (_command_c.pyx, _acommand_c.pyx) ask of a class or an
# object before they take their fused way: redispool.fastpath's answer for a class,
# remembered until the class or a base changes, and whether an object has its own method
# under a name (redispool.fastpath.overridden).

cdef extern from *:
    """
    /* A class's version tag: CPython gives it a new one whenever the class or a base
       changes (0: none valid now; before 3.12 a flag says whether it is valid). */
    static unsigned int rp_type_tag(PyObject *t) {
        PyTypeObject *type = (PyTypeObject *)t;
    #if PY_VERSION_HEX < 0x030C0000
        if (!PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) return 0;
    #endif
        return type->tp_version_tag;
    }
    """
    unsigned int rp_type_tag(object t)


cdef inline bint known(dict cache, object cls, object check) except -1:
    """``check(cls)``, remembered in ``cache`` until ``cls`` or a base changes."""
    cdef unsigned int tag = rp_type_tag(cls)
    entry = cache.get(cls)
    if entry is not None and tag and (<tuple>entry)[0] == tag:
        return (<tuple>entry)[1]
    plain = bool(check(cls))
    tag = rp_type_tag(cls)  # check's lookups give the class one if it had none
    if tag:
        if len(cache) >= 64:  # classes made per object (a test's Mocks): do not hoard
            cache.clear()
        cache[cls] = (tag, plain)
    return plain


cdef inline bint overridden(object instance, tuple names) except -1:
    """Whether ``instance`` has its own attribute under one of ``names``."""
    own = getattr(instance, "__dict__", None)
    if not own:
        return False
    for name in names:
        if name in own:
            return True
    return False

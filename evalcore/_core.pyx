# cython: language_level=3, binding=False
# (binding=False: plain method descriptors, CPython's cheapest call path for the hot method.)
"""The compiled evaluation core: Cython over the C core in src/, through sidekick.h only.

Thread safety: every store is created SK_STORE_SINGLE_THREADED because the GIL already
serialises every call into it, and no method here releases the GIL (so a write can never overlap
an evaluation). Wire validation and the Evaluation type come from the pure-Python twin so that
both implementations raise the very same messages; validation is not on the hot path.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from libc.math cimport INFINITY, fabs, floor
from libc.stdint cimport int32_t, uint32_t, uint64_t

cimport cython

from sys import intern

from evalcore._core_py import (
    FLAG_TYPE_CODES,
    Evaluation,
    parse_wire_flag,
    utf8,
    validate_version,
)
from evalcore._typed import typed_get

IMPLEMENTATION = "c"


cdef extern from "sidekick.h":
    int SK_ABI_VERSION
    ctypedef enum sk_status:
        SK_OK
        SK_IGNORED_STALE
        SK_ERR_NOMEM
        SK_ERR_NOT_FOUND
    ctypedef enum sk_store_mode:
        SK_STORE_SINGLE_THREADED
    ctypedef struct sk_attribute:
        const char *name
        size_t name_len
        const char *value
        size_t value_len
    ctypedef struct sk_evaluation:
        uint64_t version
        int32_t reason
        int32_t rule_index
        int32_t bucket
        int32_t enabled
    ctypedef struct sk_typed_attribute:
        const char *name
        size_t name_len
        const char *text
        size_t text_len
        double number
        int32_t kind
        int32_t reserved
    ctypedef struct sk_typed_evaluation:
        uint64_t version
        int32_t reason
        int32_t rule_index
        int32_t bucket
        int32_t enabled
        int32_t variant
        int32_t type
    ctypedef enum sk_serve_target:
        SK_SERVE_RULE
        SK_SERVE_FALLTHROUGH
    ctypedef enum sk_value_kind:
        SK_VALUE_TEXT
        SK_VALUE_NUMBER
        SK_VALUE_BOOL
        SK_VALUE_OTHER
    ctypedef struct sk_flag:
        pass
    ctypedef struct sk_store:
        pass

    uint32_t sk_abi_version()
    const char *sk_status_name(int32_t status)
    uint32_t sk_murmur3_32(const void *data, size_t length, uint32_t seed)
    uint32_t sk_bucket(const char *flag_key, size_t flag_key_len, const char *user_key,
                       size_t user_key_len)
    int32_t sk_flag_new(const char *key, size_t key_len, bint enabled, int32_t rollout,
                        uint64_t version, sk_flag **out)
    int32_t sk_flag_add_rule(sk_flag *flag, const char *attribute, size_t attribute_len,
                             int32_t op)
    int32_t sk_flag_add_value(sk_flag *flag, const char *value, size_t value_len)
    void sk_flag_free(sk_flag *flag)
    int32_t sk_flag_new_typed(const char *key, size_t key_len, int32_t type, bint enabled,
                              int32_t rollout, uint32_t variant_count, uint64_t version,
                              sk_flag **out)
    int32_t sk_flag_set_bucket_by(sk_flag *flag, const char *attribute, size_t attribute_len)
    int32_t sk_flag_set_off_variant(sk_flag *flag, int32_t variant)
    int32_t sk_flag_begin_rule(sk_flag *flag)
    int32_t sk_flag_add_condition(sk_flag *flag, const char *attribute, size_t attribute_len,
                                  int32_t op, bint negate)
    int32_t sk_flag_serve_variant(sk_flag *flag, int32_t target, int32_t variant)
    int32_t sk_flag_serve_split(sk_flag *flag, int32_t target, const int32_t *variants,
                                const uint32_t *weights, size_t count)
    int32_t sk_number_parse(const char *text, size_t text_len, double *out)
    int32_t sk_store_evaluate_typed(const sk_store *store, const char *flag_key,
                                    size_t flag_key_len, const char *user_key,
                                    size_t user_key_len, const sk_typed_attribute *attributes,
                                    size_t attribute_count, sk_typed_evaluation *out) nogil
    sk_store *sk_store_new(int32_t mode)
    void sk_store_free(sk_store *store)
    int32_t sk_store_upsert(sk_store *store, sk_flag *flag)
    int32_t sk_store_remove(sk_store *store, const char *key, size_t key_len, uint64_t version)
    void sk_store_clear(sk_store *store)
    int32_t sk_store_is_enabled(const sk_store *store, const char *flag_key, size_t flag_key_len,
                                const char *user_key, size_t user_key_len,
                                const sk_attribute *attributes, size_t attribute_count) nogil
    int32_t sk_store_evaluate(const sk_store *store, const char *flag_key, size_t flag_key_len,
                              const char *user_key, size_t user_key_len,
                              const sk_attribute *attributes, size_t attribute_count,
                              sk_evaluation *out) nogil


# CPython's own macros, declared over borrowed PyObject* so that the hot path takes no references.
cdef extern from "Python.h":
    int _is_str "PyUnicode_Check"(PyObject *o)
    int _is_compact_ascii "PyUnicode_IS_COMPACT_ASCII"(PyObject *o)
    void *_str_data "PyUnicode_DATA"(PyObject *o)
    Py_ssize_t _str_length "PyUnicode_GET_LENGTH"(PyObject *o)
    const char *_str_utf8 "PyUnicode_AsUTF8AndSize"(PyObject *o, Py_ssize_t *size)
    int _is_bool "PyBool_Check"(PyObject *o)
    int _is_int "PyLong_Check"(PyObject *o)
    long long _int_value "PyLong_AsLongLongAndOverflow"(PyObject *o, int *overflow)
    int _is_float "PyFloat_Check"(PyObject *o)
    double _int_as_double "PyLong_AsDouble"(PyObject *o)
    double _float_value "PyFloat_AS_DOUBLE"(PyObject *o)
    int _is_dict "PyDict_Check"(PyObject *o)
    int _dict_next "PyDict_Next"(PyObject *d, Py_ssize_t *pos, PyObject **key, PyObject **value)
    Py_ssize_t _dict_size "PyDict_GET_SIZE"(PyObject *d)
    PyObject *_dict_lookup_or_error "PyDict_GetItemWithError"(PyObject *d, PyObject *key)
    PyObject *_tuple_item "PyTuple_GET_ITEM"(PyObject *t, Py_ssize_t i)
    Py_ssize_t _tuple_size "PyTuple_GET_SIZE"(PyObject *t)
    char *_bytes_data "PyBytes_AS_STRING"(PyObject *b)
    Py_ssize_t _bytes_size "PyBytes_GET_SIZE"(PyObject *b)
    PyObject *_true "Py_True"
    void _clear_error "PyErr_Clear"()
    PyObject *_error_occurred "PyErr_Occurred"()


if sk_abi_version() != SK_ABI_VERSION:
    raise ImportError(
        f"evalcore: the C core reports ABI {sk_abi_version()}, this wrapper was built for "
        f"{SK_ABI_VERSION}; rebuild the extension"
    )

cdef enum:
    # Attributes beyond this many (rare) are converted into heap memory instead of the stack.
    STACK_ATTRIBUTES = 16
    # Attribute dicts up to this size are walked whole (PyDict_Next is cheaper than a lookup);
    # larger ones only have the names the flag's rules use looked up.
    WALK_ATTRIBUTES = 8
    # Room for the decimal text of any 64-bit integer, sign included.
    NUMBER_TEXT = 24

# Floats at or beyond 2**53 are not all integers a JavaScript SDK can tell apart.
cdef double MAX_EXACT_FLOAT = 9007199254740992.0

cdef tuple REASONS = ("FLAG_NOT_FOUND", "OFF", "RULE_MATCH", "ROLLOUT")
cdef object NOT_FOUND = Evaluation(False, "FLAG_NOT_FOUND", None, None, None)


cdef bytes _surrogate_utf8(object text):
    """The UTF-8 of a str holding lone surrogates (valid in JSON): each one as U+FFFD."""
    return utf8(text)


cdef inline bint _str_bytes(PyObject *text, const char **data, Py_ssize_t *size):
    """Points at a str's UTF-8 without copying; False (error cleared) for lone surrogates."""
    if _is_compact_ascii(text):
        data[0] = <const char *>_str_data(text)
        size[0] = _str_length(text)
        return True
    data[0] = _str_utf8(text, size)
    if data[0] == NULL:
        _clear_error()
        return False
    return True


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline Py_ssize_t _decimal(long long number, char *buffer):
    """Writes number in decimal at the end of buffer[NUMBER_TEXT]; returns the start offset."""
    cdef Py_ssize_t at = NUMBER_TEXT
    cdef unsigned long long rest = <unsigned long long>number
    if number < 0:
        rest = 0 - rest
    while True:
        at -= 1
        buffer[at] = <char>(48 + rest % 10)
        rest //= 10
        if rest == 0:
            break
    if number < 0:
        at -= 1
        buffer[at] = b'-'
    return at


cdef inline bint _value_text(PyObject *value, char *number, const char **data,
                             Py_ssize_t *size) noexcept:
    """Points data/size at an attribute value's text, for the common values: a str as UTF-8, a
    bool as true/false, an int or integral float within 64 bits in decimal (written into
    number[NUMBER_TEXT]). Both attribute converters call it for every value.

    Returns True for any other value (data/size then mean nothing): _rare_value_text handles
    those, off the hot path.
    """
    cdef int overflow  # always set by PyLong_AsLongLongAndOverflow
    cdef long long integer
    cdef double real
    cdef Py_ssize_t start
    if _is_str(value):
        return not _str_bytes(value, data, size)
    if _is_bool(value):
        if value == _true:
            data[0], size[0] = b"true", 4
        else:
            data[0], size[0] = b"false", 5
        return False
    if _is_int(value):
        integer = _int_value(value, &overflow)
        if overflow:
            return True
        start = _decimal(integer, number)
    elif _is_float(value):
        real = _float_value(value)
        if real != floor(real) or not fabs(real) < MAX_EXACT_FLOAT:
            return True
        start = _decimal(<long long>real, number)
    else:
        return True
    data[0] = number + start
    size[0] = NUMBER_TEXT - start
    return False


cdef list _rare_value_text(list keep, object value, const char **data, Py_ssize_t *size):
    """The values _value_text leaves: a str with lone surrogates or an int beyond 64 bits has its
    text made as bytes, which data/size then point at and the returned keep holds (the caller
    keeps it until the evaluation is done). Any other value can never match: *size = -1.
    """
    cdef bytes spelled = None
    if _is_str(<PyObject *>value):
        spelled = _surrogate_utf8(value)
    elif _is_int(<PyObject *>value):
        spelled = _big_integer_text(value)  # None past Python's int-to-str digit limit
    if spelled is None:
        size[0] = -1
        return keep
    data[0] = PyBytes_AS_STRING(spelled)
    size[0] = PyBytes_GET_SIZE(spelled)
    return _kept(keep, spelled)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object _gather_attributes(PyObject *table, PyObject *names, sk_attribute *out,
                               char *numbers, Py_ssize_t *gathered, bint *dropped):
    """Fills out[] with the attributes a flag's rules name, looked up by name in the dict.

    names is the flag's flat (name, name UTF-8, ...) tuple. Values without text (other types,
    non-integral floats) are left out, and *dropped is set (a typed flag must then be evaluated
    with typed attributes). Sets *gathered to how many were filled. Returns
    None, or (rarely: huge ints, lone surrogates) a list of bytes objects the caller must keep
    alive until the evaluation is done.
    """
    cdef list keep = None
    cdef Py_ssize_t index
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t size = 0
    cdef PyObject *value
    cdef PyObject *encoded
    cdef const char *data
    for index in range(0, _tuple_size(names), 2):
        value = _dict_lookup_or_error(table, _tuple_item(names, index))
        if value == NULL:
            _clear_error()  # a key whose __eq__ raised: as absent, never an exception
            continue
        if _value_text(value, numbers + count * NUMBER_TEXT, &data, &size):
            keep = _rare_value_text(keep, <object>value, &data, &size)
            if size < 0:
                dropped[0] = True
                continue
        encoded = _tuple_item(names, index + 1)
        out[count].name = _bytes_data(encoded)
        out[count].name_len = <size_t>_bytes_size(encoded)
        out[count].value = data
        out[count].value_len = <size_t>size
        count += 1
    gathered[0] = count
    return keep


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object _convert_attributes(PyObject *attributes, sk_attribute *out,
                                char *numbers, Py_ssize_t *converted, bint *dropped):
    """Fills out[] from a dict with every attribute that can ever match (others are dropped).

    For small dicts: walking them costs less than looking the rules' names up. Sets *converted
    to how many were filled; returns what _gather_attributes returns.
    """
    cdef list keep = None
    cdef Py_ssize_t position = 0
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t size = 0
    cdef PyObject *name
    cdef PyObject *value
    cdef const char *data
    while _dict_next(attributes, &position, &name, &value):
        if not _is_str(name):
            continue
        if not _str_bytes(name, &data, &size):
            continue  # a name with a lone surrogate never matches (as when looked up by name)
        out[count].name = data
        out[count].name_len = <size_t>size
        if _value_text(value, numbers + count * NUMBER_TEXT, &data, &size):
            keep = _rare_value_text(keep, <object>value, &data, &size)
            if size < 0:
                dropped[0] = True
                continue
        out[count].value = data
        out[count].value_len = <size_t>size
        count += 1
    converted[0] = count
    return keep


cdef list _kept(list keep, bytes spelled):
    if keep is None:
        return [spelled]
    keep.append(spelled)
    return keep


cdef bytes _big_integer_text(object value):
    """Decimal of an int beyond 64 bits, or None past Python's int-to-str digit limit.

    int.__repr__ itself, so that no method of an int subclass runs while the attribute dict's
    borrowed values are in use.
    """
    try:
        return int.__repr__(value).encode()
    except ValueError:
        return None


cdef inline int _check_keys(object flag_key, object user_key) except -1:
    if not (_is_str(<PyObject *>flag_key) and _is_str(<PyObject *>user_key)):
        raise TypeError("flag_key and user_key must be str")
    return 0


cdef inline object _key_bytes(object text, const char **data, Py_ssize_t *size):
    """Points at a key's UTF-8; returns None, or the bytes to keep alive (lone surrogates)."""
    cdef bytes spelled
    if _str_bytes(<PyObject *>text, data, size):
        return None
    spelled = _surrogate_utf8(text)
    data[0] = PyBytes_AS_STRING(spelled)
    size[0] = PyBytes_GET_SIZE(spelled)
    return spelled


cdef object _as_dict(object attributes):
    """The attributes as a dict (or dict subclass), or None; TypeError for anything else."""
    if attributes is None or isinstance(attributes, dict):
        return attributes
    from collections.abc import Mapping
    if isinstance(attributes, Mapping):
        return dict(attributes.items())
    raise TypeError(f"attributes must be a mapping or None, got {type(attributes).__name__}")


@cython.final
cdef class FlagStore:
    """Flags by key with version-aware writes, evaluated in-process by the C core."""

    cdef sk_store *_store
    # The wire dicts as sent (validated, privately copied), for get() and flags().
    cdef dict _wire
    # Flag key -> the attribute names its rules use, flat (name, name UTF-8, ...), for flags
    # with rules only. Evaluation looks just those up in the caller's dict instead of converting
    # every attribute, and skips attributes altogether for a flag without rules.
    cdef dict _rule_names
    # Flag key -> (variant keys, variant values): what evaluate answers for a variant index.
    cdef dict _served
    # Keys of flags that need version 2 evaluation (see ParsedFlag.simple): is_enabled sends
    # their attributes typed when one has no text (the version 1 path would leave it out).
    cdef set _typed

    def __cinit__(self):
        self._store = sk_store_new(SK_STORE_SINGLE_THREADED)
        if self._store == NULL:
            raise MemoryError("sk_store_new failed")
        self._wire = {}
        self._rule_names = {}
        self._served = {}
        self._typed = set()

    def __dealloc__(self):
        sk_store_free(self._store)

    def upsert(self, flag):
        """Stores a wire-format flag unless a newer version is held; returns whether it applied."""
        parsed = parse_wire_flag(flag)
        cdef sk_flag *built = _build(parsed)
        cdef int32_t status = sk_store_upsert(self._store, built)  # takes the flag, whatever
        if status == SK_IGNORED_STALE:
            return False
        _check(status, "flag")
        self._wire[parsed.key] = parsed.wire
        self._served[parsed.key] = (parsed.variant_keys, parsed.variant_values)
        if parsed.simple:
            self._typed.discard(parsed.key)
        else:
            self._typed.add(parsed.key)
        names = _names_of(parsed)
        if names:
            # Interned, like the str literals callers write, so lookups mostly compare pointers.
            self._rule_names[intern(parsed.key)] = names
        else:
            self._rule_names.pop(parsed.key, None)
        return True

    def delete(self, key, version=0):
        """Removes the flag unless it is as new as the delete; returns whether one was removed.

        A versioned delete is remembered (a tombstone) so that an older upsert arriving later is
        ignored, also when the flag was never stored here.
        """
        if not isinstance(key, str):
            raise TypeError(f"key must be str, got {type(key).__name__}")
        cdef uint64_t checked = validate_version(version)
        cdef const char *data
        cdef Py_ssize_t size
        keep = _key_bytes(key, &data, &size)
        cdef int32_t status = sk_store_remove(self._store, data, <size_t>size, checked)
        if status == SK_OK:
            self._wire.pop(key, None)
            self._rule_names.pop(key, None)
            self._served.pop(key, None)
            self._typed.discard(key)
            return True
        if status == SK_IGNORED_STALE or status == SK_ERR_NOT_FOUND:
            return False
        _check(status, "key")

    def clear(self):
        """Forgets every flag and every tombstone."""
        sk_store_clear(self._store)
        self._wire.clear()
        self._rule_names.clear()
        self._served.clear()
        self._typed.clear()

    def get(self, key):
        """The stored wire dict (treat it as read-only), or None."""
        return self._wire.get(key)

    def flags(self):
        """Every stored wire dict, in insertion order."""
        return list(self._wire.values())

    def __len__(self):
        return len(self._wire)

    def __contains__(self, key):
        return key in self._wire

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def is_enabled(self, flag_key, user_key, attributes=None):
        """Whether the flag is on for the user; never raises for a missing flag or odd attributes.

        Raises TypeError only for a non-str key or attributes that are not a mapping.
        """
        cdef const char *flag_data
        cdef const char *user_data
        cdef Py_ssize_t flag_size, user_size
        cdef sk_attribute stack[STACK_ATTRIBUTES]
        cdef char numbers[STACK_ATTRIBUTES * NUMBER_TEXT]
        cdef sk_attribute *heap = NULL
        cdef char *heap_numbers = NULL
        cdef Py_ssize_t count = 0
        cdef Py_ssize_t size = 0
        cdef Py_ssize_t wanted
        cdef PyObject *names
        cdef bint dropped = False
        _check_keys(flag_key, user_key)
        if attributes is not None:
            if not _is_dict(<PyObject *>attributes):
                attributes = _as_dict(attributes)
            size = _dict_size(<PyObject *>attributes)
        keep_flag = _key_bytes(flag_key, &flag_data, &flag_size)
        keep_user = _key_bytes(user_key, &user_data, &user_size)
        if size == 0:
            return sk_store_is_enabled(self._store, flag_data, <size_t>flag_size, user_data,
                                       <size_t>user_size, NULL, 0) == 1
        if size <= WALK_ATTRIBUTES:
            keep = _convert_attributes(<PyObject *>attributes, stack, numbers, &count, &dropped)
            if dropped and self._needs_typed(flag_key):
                return self.evaluate(flag_key, user_key, attributes).enabled
            return sk_store_is_enabled(self._store, flag_data, <size_t>flag_size, user_data,
                                       <size_t>user_size, stack, <size_t>count) == 1
        names = _dict_lookup_or_error(<PyObject *>self._rule_names, <PyObject *>flag_key)
        if names == NULL:
            _clear_error()
            return sk_store_is_enabled(self._store, flag_data, <size_t>flag_size, user_data,
                                       <size_t>user_size, NULL, 0) == 1
        # A strong reference: a caller's key with a Python __eq__ can let another thread replace
        # this flag's entry while the names are being looked up.
        names_held = <object>names
        wanted = _tuple_size(names) // 2
        if wanted <= STACK_ATTRIBUTES:
            keep = _gather_attributes(<PyObject *>attributes, names, stack, numbers, &count,
                                      &dropped)
            if dropped and self._needs_typed(flag_key):
                return self.evaluate(flag_key, user_key, attributes).enabled
            return sk_store_is_enabled(self._store, flag_data, <size_t>flag_size, user_data,
                                       <size_t>user_size, stack, <size_t>count) == 1
        heap = <sk_attribute *>PyMem_Malloc(wanted * sizeof(sk_attribute))
        heap_numbers = <char *>PyMem_Malloc(wanted * NUMBER_TEXT)
        try:
            if heap == NULL or heap_numbers == NULL:
                raise MemoryError()
            keep = _gather_attributes(<PyObject *>attributes, names, heap, heap_numbers, &count,
                                      &dropped)
            if dropped and self._needs_typed(flag_key):
                return self.evaluate(flag_key, user_key, attributes).enabled
            return sk_store_is_enabled(self._store, flag_data, <size_t>flag_size, user_data,
                                       <size_t>user_size, heap, <size_t>count) == 1
        finally:
            PyMem_Free(heap)
            PyMem_Free(heap_numbers)

    cdef bint _needs_typed(self, object flag_key):
        """Whether a flag's answer can depend on attribute values without text (None, 1.5, a
        list): true for typed flags (negate, numeric operators), whose is_enabled then takes
        the typed path. Only asked when such a value was seen, so the common path never pays."""
        return flag_key in self._typed

    def evaluate(self, flag_key, user_key, attributes=None):
        """The served variant's value and key, with the reason, matching rule, bucket and
        version; `enabled` is is_enabled's answer."""
        cdef const char *flag_data
        cdef const char *user_data
        cdef Py_ssize_t flag_size, user_size
        cdef sk_typed_attribute *gathered = NULL
        cdef char *numbers = NULL
        cdef Py_ssize_t count = 0
        cdef Py_ssize_t wanted
        cdef PyObject *names
        cdef sk_typed_evaluation answer
        _check_keys(flag_key, user_key)
        table = _as_dict(attributes)
        keep_flag = _key_bytes(flag_key, &flag_data, &flag_size)
        keep_user = _key_bytes(user_key, &user_data, &user_size)
        names = _dict_lookup_or_error(<PyObject *>self._rule_names, <PyObject *>flag_key)
        if names == NULL:
            _clear_error()
        names_held = <object>names if names != NULL else None  # as in is_enabled
        try:
            if table is not None and names != NULL:
                wanted = _tuple_size(names) // 2
                gathered = <sk_typed_attribute *>PyMem_Malloc(
                    wanted * sizeof(sk_typed_attribute))
                numbers = <char *>PyMem_Malloc(wanted * NUMBER_TEXT)
                if gathered == NULL or numbers == NULL:
                    raise MemoryError()
                keep = _gather_typed(<PyObject *>table, names, gathered, numbers, &count)
            sk_store_evaluate_typed(self._store, flag_data, <size_t>flag_size, user_data,
                                    <size_t>user_size, gathered, <size_t>count, &answer)
        finally:
            PyMem_Free(gathered)
            PyMem_Free(numbers)
        if answer.reason == 0:
            return NOT_FOUND
        variant_keys, variant_values = self._served[flag_key]
        return Evaluation(
            answer.enabled == 1,
            REASONS[answer.reason],
            answer.rule_index if answer.rule_index >= 0 else None,
            answer.bucket if answer.bucket >= 0 else None,
            answer.version,
            variant_values[answer.variant],
            variant_keys[answer.variant],
        )

    def get_boolean(self, flag_key, user_key, attributes=None, default=False):
        """A boolean flag's answer; default when it is missing or of another type."""
        return typed_get(self, "boolean", flag_key, user_key, attributes, default)

    def get_string(self, flag_key, user_key, attributes=None, default=""):
        """A string flag's served value; default when it is missing or of another type."""
        return typed_get(self, "string", flag_key, user_key, attributes, default)

    def get_number(self, flag_key, user_key, attributes=None, default=0):
        """A number flag's served value; default when it is missing or of another type."""
        return typed_get(self, "number", flag_key, user_key, attributes, default)

    def get_json(self, flag_key, user_key, attributes=None, default=None):
        """A json flag's served value; default when it is missing or of another type."""
        return typed_get(self, "json", flag_key, user_key, attributes, default)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object _gather_typed(PyObject *table, PyObject *names, sk_typed_attribute *out,
                          char *numbers, Py_ssize_t *gathered):
    """Fills out[] with the typed attributes a flag uses, looked up by name in the dict: a str
    as text, a bool as a boolean (never a number), an int or float as a number (an int with its
    exact decimal text), anything else as present without a value. Returns what
    _gather_attributes returns."""
    cdef list keep = None
    cdef Py_ssize_t index
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t size = 0
    cdef PyObject *value
    cdef PyObject *encoded
    cdef const char *data
    cdef sk_typed_attribute *slot
    for index in range(0, _tuple_size(names), 2):
        value = _dict_lookup_or_error(table, _tuple_item(names, index))
        if value == NULL:
            _clear_error()  # a key whose __eq__ raised: as absent, never an exception
            continue
        slot = &out[count]
        encoded = _tuple_item(names, index + 1)
        slot.name = _bytes_data(encoded)
        slot.name_len = <size_t>_bytes_size(encoded)
        slot.text = NULL
        slot.text_len = 0
        slot.number = 0.0
        slot.reserved = 0
        count += 1
        if _is_str(value):
            slot.kind = SK_VALUE_TEXT
            if not _str_bytes(value, &data, &size):
                keep = _rare_value_text(keep, <object>value, &data, &size)
            slot.text = data
            slot.text_len = <size_t>size
        elif _is_bool(value):
            slot.kind = SK_VALUE_BOOL
            slot.number = 1.0 if value == _true else 0.0
        elif _is_int(value):
            slot.kind = SK_VALUE_NUMBER
            slot.number = _int_as_double(value)
            if slot.number == -1.0 and _error_occurred() != NULL:
                _clear_error()  # an int beyond any double: its sign's infinity, as IEEE rounds
                slot.number = INFINITY if <object>value > 0 else -INFINITY
            if not _value_text(value, numbers + (count - 1) * NUMBER_TEXT, &data, &size):
                slot.text = data
                slot.text_len = <size_t>size
            else:
                keep = _rare_value_text(keep, <object>value, &data, &size)
                if size >= 0:
                    slot.text = data
                    slot.text_len = <size_t>size
        elif _is_float(value):
            slot.kind = SK_VALUE_NUMBER
            slot.number = _float_value(value)
        else:
            slot.kind = SK_VALUE_OTHER
    gathered[0] = count
    return keep


cdef sk_flag *_build(object parsed) except NULL:
    """A C flag from a parsed wire flag (every flag through the version 2 builder)."""
    cdef bytes key = (<str>parsed.key).encode("ascii")
    cdef sk_flag *built = NULL
    cdef bint boolean = parsed.flag_type == "boolean"
    cdef uint32_t variant_count = 0 if boolean else len(parsed.variant_keys)
    _check(sk_flag_new_typed(key, len(key), FLAG_TYPE_CODES[parsed.flag_type], parsed.enabled,
                             parsed.rollout, variant_count, parsed.version, &built), "key")
    cdef bytes text
    try:
        if parsed.bucket_by is not None:
            text = utf8(parsed.bucket_by)
            _check(sk_flag_set_bucket_by(built, text, len(text)), "bucket_by")
        if not boolean:
            _check(sk_flag_set_off_variant(built, parsed.off_variant), "off_variant")
            _serve(built, SK_SERVE_FALLTHROUGH, parsed.fallthrough, "fallthrough")
        for index, rule in enumerate(parsed.typed_rules):
            _check(sk_flag_begin_rule(built), f"rules[{index}]")
            for condition in rule.conditions:
                text = condition.attribute_utf8
                _check(sk_flag_add_condition(built, text, len(text), condition.operator,
                                             condition.negate), f"rules[{index}]")
                for text in condition.values:
                    _check(sk_flag_add_value(built, text, len(text)), f"rules[{index}].values")
            _serve(built, SK_SERVE_RULE, rule.serve, f"rules[{index}].serve")
    except BaseException:
        sk_flag_free(built)
        raise
    return built


cdef int _serve(sk_flag *built, int32_t target, object serve, str path) except -1:
    cdef Py_ssize_t count = len(serve.split)
    cdef int32_t *variants
    cdef uint32_t *weights
    cdef uint32_t previous = 0
    cdef Py_ssize_t index
    if count == 0:
        return _check(sk_flag_serve_variant(built, target, serve.variant), path)
    variants = <int32_t *>PyMem_Malloc(count * sizeof(int32_t))
    weights = <uint32_t *>PyMem_Malloc(count * sizeof(uint32_t))
    try:
        if variants == NULL or weights == NULL:
            raise MemoryError()
        for index in range(count):
            variant, end = serve.split[index]
            variants[index] = variant
            weights[index] = end - previous
            previous = end
        return _check(sk_flag_serve_split(built, target, variants, weights, <size_t>count), path)
    finally:
        PyMem_Free(variants)
        PyMem_Free(weights)


cdef tuple _names_of(object parsed):
    """The flat (name, name UTF-8, ...) tuple of the distinct attributes a flag reads: every
    condition's, and bucket_by's."""
    cdef list flat = []
    seen = set()
    names = [condition.attribute for rule in parsed.typed_rules for condition in rule.conditions]
    if parsed.bucket_by is not None:
        names.append(parsed.bucket_by)
    for name in names:
        if name not in seen:
            seen.add(name)
            flat.extend((intern(name), utf8(name)))
    return tuple(flat)


cdef int _check(int32_t status, str path) except -1:
    """Raises for a C error status; validation ran first, so only exhaustion is expected."""
    if status >= 0:
        return 0
    if status == SK_ERR_NOMEM:
        raise MemoryError(f"{path}: the C core is out of memory")
    raise ValueError(f"{path}: rejected by the C core ({sk_status_name(status).decode()})")


def murmur3_32(data, seed=0):
    """Unsigned MurmurHash3 x86_32 of the bytes (a str is hashed as its UTF-8)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 0xFFFFFFFF:
        raise ValueError(f"seed: must be an integer from 0 to 2**32-1, got {seed!r}")
    cdef bytes payload
    if isinstance(data, str):
        payload = _surrogate_utf8(data)
    else:
        payload = bytes(data)
    return sk_murmur3_32(PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload), <uint32_t>seed)


def bucket(flag_key, user_key):
    """The user's rollout bucket (0..99) for the flag."""
    _check_keys(flag_key, user_key)
    cdef bytes flag_bytes = _surrogate_utf8(flag_key)
    cdef bytes user_bytes = _surrogate_utf8(user_key)
    return sk_bucket(flag_bytes, len(flag_bytes), user_bytes, len(user_bytes))


def parse_number(text):
    """text read as a JSON number by the C core (correctly rounded, no locale), or None."""
    cdef bytes encoded = _surrogate_utf8(text)
    cdef double out
    if sk_number_parse(encoded, len(encoded), &out) != SK_OK:
        return None
    return out

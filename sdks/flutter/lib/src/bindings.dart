/// dart:ffi declarations of every function and struct in evalcore/include/sidekick.h.
///
/// Each C function has a native typedef (its C signature in FFI types) and a Dart typedef (what
/// Dart code calls); the project's ABI check compares both with sidekick.h, so keep them in this
/// regular shape: `typedef _SkNameNative = ...; typedef _SkNameDart = ...;` and one
/// `lookupFunction<_SkNameNative, _SkNameDart>('sk_name')` per function.
library;

import 'dart:ffi';
import 'dart:io' show Platform;

/// The sidekick.h ABI these declarations were written against (SK_ABI_VERSION).
const int sidekickAbiVersion = 2;

/// sk_status values the Dart code acts on.
abstract final class SkStatus {
  static const int ok = 0;
  static const int ignoredStale = 1;
  static const int errNoMem = -1;
  static const int errInvalidArgument = -2;
  static const int errBadKey = -3;
  static const int errBadRollout = -4;
  static const int errBadOperator = -5;
  static const int errBadAttribute = -6;
  static const int errTooManyRules = -7;
  static const int errTooManyValues = -8;
  static const int errNoRule = -9;
  static const int errNotFound = -10;
  static const int errBadType = -11;
  static const int errBadVariant = -12;
  static const int errBadSplit = -13;
  static const int errBadValue = -14;
  static const int errTooManyConditions = -15;
  static const int errIncomplete = -16;
}

/// sk_flag_type (version 2), in wire order: `boolean`, `string`, `number`, `json`.
abstract final class SkFlagType {
  static const int boolean = 0;
  static const int string = 1;
  static const int number = 2;
  static const int json = 3;
}

/// sk_serve_target (version 2).
abstract final class SkServeTarget {
  static const int rule = 0;
  static const int fallthrough = 1;
}

/// sk_value_kind (version 2): the kind of a typed attribute's value.
abstract final class SkValueKind {
  static const int text = 0;
  static const int number = 1;
  static const int boolean = 2;
  static const int other = 3;
}

/// A boolean flag's implicit variants (SK_VARIANT_OFF, SK_VARIANT_ON).
abstract final class SkVariant {
  static const int off = 0;
  static const int on = 1;
}

/// sk_store_mode.
abstract final class SkStoreMode {
  static const int singleThreaded = 0;
  static const int concurrent = 1;
}

/// sk_store: flags by key, with version-aware writes.
final class SkStore extends Opaque {}

/// sk_flag: a flag being built, owned by Dart until sk_store_upsert takes it.
final class SkFlag extends Opaque {}

/// sk_attribute: one attribute handed to evaluation (UTF-8, explicit lengths).
final class SkAttribute extends Struct {
  external Pointer<Uint8> name;
  @Size()
  external int nameLen;
  external Pointer<Uint8> value;
  @Size()
  external int valueLen;
}

/// sk_evaluation: why evaluation answered as it did.
final class SkEvaluation extends Struct {
  @Uint64()
  external int version;
  @Int32()
  external int reason;
  @Int32()
  external int ruleIndex;
  @Int32()
  external int bucket;
  @Int32()
  external int enabled;
}

/// sk_typed_attribute (version 2): a name and a value of an [SkValueKind].
final class SkTypedAttribute extends Struct {
  external Pointer<Uint8> name;
  @Size()
  external int nameLen;
  external Pointer<Uint8> text;
  @Size()
  external int textLen;
  @Double()
  external double number;
  @Int32()
  external int kind;
  @Int32()
  external int reserved;
}

/// sk_typed_evaluation (version 2): the served variant with the reason, rule, bucket and type.
final class SkTypedEvaluation extends Struct {
  @Uint64()
  external int version;
  @Int32()
  external int reason;
  @Int32()
  external int ruleIndex;
  @Int32()
  external int bucket;
  @Int32()
  external int enabled;
  @Int32()
  external int variant;
  @Int32()
  external int type;
}

typedef _SkAbiVersionNative = Uint32 Function();
typedef _SkAbiVersionDart = int Function();

typedef _SkStatusNameNative = Pointer<Uint8> Function(Int32 status);
typedef _SkStatusNameDart = Pointer<Uint8> Function(int status);

typedef _SkReasonNameNative = Pointer<Uint8> Function(Int32 reason);
typedef _SkReasonNameDart = Pointer<Uint8> Function(int reason);

typedef _SkOperatorParseNative = Int32 Function(Pointer<Uint8> name, Size nameLen);
typedef _SkOperatorParseDart = int Function(Pointer<Uint8> name, int nameLen);

typedef _SkMurmur332Native = Uint32 Function(Pointer<Void> data, Size len, Uint32 seed);
typedef _SkMurmur332Dart = int Function(Pointer<Void> data, int len, int seed);

typedef _SkBucketNative = Uint32 Function(
    Pointer<Uint8> flagKey, Size flagKeyLen, Pointer<Uint8> userKey, Size userKeyLen);
typedef _SkBucketDart = int Function(
    Pointer<Uint8> flagKey, int flagKeyLen, Pointer<Uint8> userKey, int userKeyLen);

typedef _SkFlagNewNative = Int32 Function(Pointer<Uint8> key, Size keyLen, Bool enabled,
    Int32 rollout, Uint64 version, Pointer<Pointer<SkFlag>> out);
typedef _SkFlagNewDart = int Function(Pointer<Uint8> key, int keyLen, bool enabled, int rollout,
    int version, Pointer<Pointer<SkFlag>> out);

typedef _SkFlagAddRuleNative = Int32 Function(
    Pointer<SkFlag> flag, Pointer<Uint8> attribute, Size attributeLen, Int32 op);
typedef _SkFlagAddRuleDart = int Function(
    Pointer<SkFlag> flag, Pointer<Uint8> attribute, int attributeLen, int op);

typedef _SkFlagAddValueNative = Int32 Function(
    Pointer<SkFlag> flag, Pointer<Uint8> value, Size valueLen);
typedef _SkFlagAddValueDart = int Function(Pointer<SkFlag> flag, Pointer<Uint8> value, int valueLen);

typedef _SkFlagFreeNative = Void Function(Pointer<SkFlag> flag);
typedef _SkFlagFreeDart = void Function(Pointer<SkFlag> flag);

typedef _SkStoreNewNative = Pointer<SkStore> Function(Int32 mode);
typedef _SkStoreNewDart = Pointer<SkStore> Function(int mode);

typedef _SkStoreFreeNative = Void Function(Pointer<SkStore> store);
typedef _SkStoreFreeDart = void Function(Pointer<SkStore> store);

typedef _SkStoreUpsertNative = Int32 Function(Pointer<SkStore> store, Pointer<SkFlag> flag);
typedef _SkStoreUpsertDart = int Function(Pointer<SkStore> store, Pointer<SkFlag> flag);

typedef _SkStoreRemoveNative = Int32 Function(
    Pointer<SkStore> store, Pointer<Uint8> key, Size keyLen, Uint64 version);
typedef _SkStoreRemoveDart = int Function(
    Pointer<SkStore> store, Pointer<Uint8> key, int keyLen, int version);

typedef _SkStoreClearNative = Void Function(Pointer<SkStore> store);
typedef _SkStoreClearDart = void Function(Pointer<SkStore> store);

typedef _SkStoreCountNative = Size Function(Pointer<SkStore> store);
typedef _SkStoreCountDart = int Function(Pointer<SkStore> store);

typedef _SkStoreVersionNative = Uint64 Function(
    Pointer<SkStore> store, Pointer<Uint8> key, Size keyLen);
typedef _SkStoreVersionDart = int Function(Pointer<SkStore> store, Pointer<Uint8> key, int keyLen);

typedef _SkStoreIsEnabledNative = Int32 Function(
    Pointer<SkStore> store,
    Pointer<Uint8> flagKey,
    Size flagKeyLen,
    Pointer<Uint8> userKey,
    Size userKeyLen,
    Pointer<SkAttribute> attributes,
    Size attributeCount);
typedef _SkStoreIsEnabledDart = int Function(
    Pointer<SkStore> store,
    Pointer<Uint8> flagKey,
    int flagKeyLen,
    Pointer<Uint8> userKey,
    int userKeyLen,
    Pointer<SkAttribute> attributes,
    int attributeCount);

typedef _SkStoreEvaluateNative = Int32 Function(
    Pointer<SkStore> store,
    Pointer<Uint8> flagKey,
    Size flagKeyLen,
    Pointer<Uint8> userKey,
    Size userKeyLen,
    Pointer<SkAttribute> attributes,
    Size attributeCount,
    Pointer<SkEvaluation> out);
typedef _SkStoreEvaluateDart = int Function(
    Pointer<SkStore> store,
    Pointer<Uint8> flagKey,
    int flagKeyLen,
    Pointer<Uint8> userKey,
    int userKeyLen,
    Pointer<SkAttribute> attributes,
    int attributeCount,
    Pointer<SkEvaluation> out);

typedef _SkStoreFindNative = Pointer<SkFlag> Function(
    Pointer<SkStore> store, Pointer<Uint8> key, Size keyLen);
typedef _SkStoreFindDart = Pointer<SkFlag> Function(
    Pointer<SkStore> store, Pointer<Uint8> key, int keyLen);

typedef _SkFlagIsEnabledNative = Int32 Function(Pointer<SkFlag> flag, Pointer<Uint8> userKey,
    Size userKeyLen, Pointer<SkAttribute> attributes, Size attributeCount);
typedef _SkFlagIsEnabledDart = int Function(Pointer<SkFlag> flag, Pointer<Uint8> userKey,
    int userKeyLen, Pointer<SkAttribute> attributes, int attributeCount);

typedef _SkFlagEvaluateNative = Int32 Function(Pointer<SkFlag> flag, Pointer<Uint8> userKey,
    Size userKeyLen, Pointer<SkAttribute> attributes, Size attributeCount,
    Pointer<SkEvaluation> out);
typedef _SkFlagEvaluateDart = int Function(Pointer<SkFlag> flag, Pointer<Uint8> userKey,
    int userKeyLen, Pointer<SkAttribute> attributes, int attributeCount,
    Pointer<SkEvaluation> out);

typedef _SkNumberParseNative = Int32 Function(
    Pointer<Uint8> text, Size textLen, Pointer<Double> out);
typedef _SkNumberParseDart = int Function(Pointer<Uint8> text, int textLen, Pointer<Double> out);

typedef _SkSemverCompareNative = Int32 Function(
    Pointer<Uint8> a, Size aLen, Pointer<Uint8> b, Size bLen, Pointer<Int32> order);
typedef _SkSemverCompareDart = int Function(
    Pointer<Uint8> a, int aLen, Pointer<Uint8> b, int bLen, Pointer<Int32> order);

typedef _SkFlagNewTypedNative = Int32 Function(Pointer<Uint8> key, Size keyLen, Int32 type,
    Bool enabled, Int32 rollout, Uint32 variantCount, Uint64 version, Pointer<Pointer<SkFlag>> out);
typedef _SkFlagNewTypedDart = int Function(Pointer<Uint8> key, int keyLen, int type, bool enabled,
    int rollout, int variantCount, int version, Pointer<Pointer<SkFlag>> out);

typedef _SkFlagSetBucketByNative = Int32 Function(
    Pointer<SkFlag> flag, Pointer<Uint8> attribute, Size attributeLen);
typedef _SkFlagSetBucketByDart = int Function(
    Pointer<SkFlag> flag, Pointer<Uint8> attribute, int attributeLen);

typedef _SkFlagSetOffVariantNative = Int32 Function(Pointer<SkFlag> flag, Int32 variant);
typedef _SkFlagSetOffVariantDart = int Function(Pointer<SkFlag> flag, int variant);

typedef _SkFlagBeginRuleNative = Int32 Function(Pointer<SkFlag> flag);
typedef _SkFlagBeginRuleDart = int Function(Pointer<SkFlag> flag);

typedef _SkFlagAddConditionNative = Int32 Function(
    Pointer<SkFlag> flag, Pointer<Uint8> attribute, Size attributeLen, Int32 op, Bool negate);
typedef _SkFlagAddConditionDart = int Function(
    Pointer<SkFlag> flag, Pointer<Uint8> attribute, int attributeLen, int op, bool negate);

typedef _SkFlagServeVariantNative = Int32 Function(
    Pointer<SkFlag> flag, Int32 target, Int32 variant);
typedef _SkFlagServeVariantDart = int Function(Pointer<SkFlag> flag, int target, int variant);

typedef _SkFlagServeSplitNative = Int32 Function(Pointer<SkFlag> flag, Int32 target,
    Pointer<Int32> variants, Pointer<Uint32> weights, Size count);
typedef _SkFlagServeSplitDart = int Function(Pointer<SkFlag> flag, int target,
    Pointer<Int32> variants, Pointer<Uint32> weights, int count);

typedef _SkStoreEvaluateTypedNative = Int32 Function(
    Pointer<SkStore> store,
    Pointer<Uint8> flagKey,
    Size flagKeyLen,
    Pointer<Uint8> userKey,
    Size userKeyLen,
    Pointer<SkTypedAttribute> attributes,
    Size attributeCount,
    Pointer<SkTypedEvaluation> out);
typedef _SkStoreEvaluateTypedDart = int Function(
    Pointer<SkStore> store,
    Pointer<Uint8> flagKey,
    int flagKeyLen,
    Pointer<Uint8> userKey,
    int userKeyLen,
    Pointer<SkTypedAttribute> attributes,
    int attributeCount,
    Pointer<SkTypedEvaluation> out);

typedef _SkFlagEvaluateTypedNative = Int32 Function(Pointer<SkFlag> flag, Pointer<Uint8> userKey,
    Size userKeyLen, Pointer<SkTypedAttribute> attributes, Size attributeCount,
    Pointer<SkTypedEvaluation> out);
typedef _SkFlagEvaluateTypedDart = int Function(Pointer<SkFlag> flag, Pointer<Uint8> userKey,
    int userKeyLen, Pointer<SkTypedAttribute> attributes, int attributeCount,
    Pointer<SkTypedEvaluation> out);

/// Opens libsidekick the way each platform ships it: a shared library beside the app on Android
/// and desktop, linked statically into the executable on iOS.
DynamicLibrary openSidekickLibrary() {
  if (Platform.isIOS) {
    return DynamicLibrary.process();
  }
  if (Platform.isMacOS) {
    return DynamicLibrary.open('libsidekick.dylib');
  }
  if (Platform.isWindows) {
    return DynamicLibrary.open('sidekick.dll');
  }
  return DynamicLibrary.open('libsidekick.so');
}

/// The C functions of sidekick.h, looked up once.
final class SidekickBindings {
  SidekickBindings(DynamicLibrary dylib)
      : abiVersion = dylib.lookupFunction<_SkAbiVersionNative, _SkAbiVersionDart>(
            'sk_abi_version'),
        statusName =
            dylib.lookupFunction<_SkStatusNameNative, _SkStatusNameDart>('sk_status_name'),
        reasonName =
            dylib.lookupFunction<_SkReasonNameNative, _SkReasonNameDart>('sk_reason_name'),
        operatorParse = dylib.lookupFunction<_SkOperatorParseNative, _SkOperatorParseDart>(
            'sk_operator_parse'),
        murmurHash3 =
            dylib.lookupFunction<_SkMurmur332Native, _SkMurmur332Dart>('sk_murmur3_32'),
        bucket = dylib.lookupFunction<_SkBucketNative, _SkBucketDart>('sk_bucket'),
        flagNew = dylib.lookupFunction<_SkFlagNewNative, _SkFlagNewDart>('sk_flag_new'),
        flagAddRule =
            dylib.lookupFunction<_SkFlagAddRuleNative, _SkFlagAddRuleDart>('sk_flag_add_rule'),
        flagAddValue = dylib.lookupFunction<_SkFlagAddValueNative, _SkFlagAddValueDart>(
            'sk_flag_add_value'),
        numberParse = dylib.lookupFunction<_SkNumberParseNative, _SkNumberParseDart>(
            'sk_number_parse'),
        semverCompare = dylib.lookupFunction<_SkSemverCompareNative, _SkSemverCompareDart>(
            'sk_semver_compare'),
        flagNewTyped = dylib.lookupFunction<_SkFlagNewTypedNative, _SkFlagNewTypedDart>(
            'sk_flag_new_typed'),
        flagSetBucketBy = dylib.lookupFunction<_SkFlagSetBucketByNative, _SkFlagSetBucketByDart>(
            'sk_flag_set_bucket_by'),
        flagSetOffVariant =
            dylib.lookupFunction<_SkFlagSetOffVariantNative, _SkFlagSetOffVariantDart>(
                'sk_flag_set_off_variant'),
        flagBeginRule = dylib.lookupFunction<_SkFlagBeginRuleNative, _SkFlagBeginRuleDart>(
            'sk_flag_begin_rule'),
        flagAddCondition =
            dylib.lookupFunction<_SkFlagAddConditionNative, _SkFlagAddConditionDart>(
                'sk_flag_add_condition'),
        flagServeVariant =
            dylib.lookupFunction<_SkFlagServeVariantNative, _SkFlagServeVariantDart>(
                'sk_flag_serve_variant'),
        flagServeSplit = dylib.lookupFunction<_SkFlagServeSplitNative, _SkFlagServeSplitDart>(
            'sk_flag_serve_split'),
        flagFree = dylib.lookupFunction<_SkFlagFreeNative, _SkFlagFreeDart>('sk_flag_free'),
        storeNew = dylib.lookupFunction<_SkStoreNewNative, _SkStoreNewDart>('sk_store_new'),
        storeFree = dylib.lookupFunction<_SkStoreFreeNative, _SkStoreFreeDart>('sk_store_free'),
        storeFreePointer =
            dylib.lookup<NativeFunction<_SkStoreFreeNative>>('sk_store_free'),
        storeUpsert =
            dylib.lookupFunction<_SkStoreUpsertNative, _SkStoreUpsertDart>('sk_store_upsert'),
        storeRemove =
            dylib.lookupFunction<_SkStoreRemoveNative, _SkStoreRemoveDart>('sk_store_remove'),
        storeClear =
            dylib.lookupFunction<_SkStoreClearNative, _SkStoreClearDart>('sk_store_clear'),
        storeCount =
            dylib.lookupFunction<_SkStoreCountNative, _SkStoreCountDart>('sk_store_count'),
        storeVersion = dylib.lookupFunction<_SkStoreVersionNative, _SkStoreVersionDart>(
            'sk_store_version'),
        // Evaluation neither blocks nor calls back into Dart, so a leaf call skips the
        // safepoint transition on the hot path.
        storeIsEnabled = dylib.lookupFunction<_SkStoreIsEnabledNative, _SkStoreIsEnabledDart>(
            'sk_store_is_enabled',
            isLeaf: true),
        storeEvaluate = dylib.lookupFunction<_SkStoreEvaluateNative, _SkStoreEvaluateDart>(
            'sk_store_evaluate',
            isLeaf: true),
        storeEvaluateTyped =
            dylib.lookupFunction<_SkStoreEvaluateTypedNative, _SkStoreEvaluateTypedDart>(
                'sk_store_evaluate_typed',
                isLeaf: true),
        flagEvaluateTyped =
            dylib.lookupFunction<_SkFlagEvaluateTypedNative, _SkFlagEvaluateTypedDart>(
                'sk_flag_evaluate_typed',
                isLeaf: true),
        storeFind =
            dylib.lookupFunction<_SkStoreFindNative, _SkStoreFindDart>('sk_store_find', isLeaf: true),
        flagIsEnabled = dylib.lookupFunction<_SkFlagIsEnabledNative, _SkFlagIsEnabledDart>(
            'sk_flag_is_enabled',
            isLeaf: true),
        flagEvaluate = dylib.lookupFunction<_SkFlagEvaluateNative, _SkFlagEvaluateDart>(
            'sk_flag_evaluate',
            isLeaf: true);

  final _SkAbiVersionDart abiVersion;
  final _SkStatusNameDart statusName;
  final _SkReasonNameDart reasonName;
  final _SkOperatorParseDart operatorParse;
  final _SkMurmur332Dart murmurHash3;
  final _SkBucketDart bucket;
  final _SkFlagNewDart flagNew;
  final _SkFlagAddRuleDart flagAddRule;
  final _SkFlagAddValueDart flagAddValue;
  final _SkNumberParseDart numberParse;
  final _SkSemverCompareDart semverCompare;
  final _SkFlagNewTypedDart flagNewTyped;
  final _SkFlagSetBucketByDart flagSetBucketBy;
  final _SkFlagSetOffVariantDart flagSetOffVariant;
  final _SkFlagBeginRuleDart flagBeginRule;
  final _SkFlagAddConditionDart flagAddCondition;
  final _SkFlagServeVariantDart flagServeVariant;
  final _SkFlagServeSplitDart flagServeSplit;
  final _SkFlagFreeDart flagFree;
  final _SkStoreNewDart storeNew;
  final _SkStoreFreeDart storeFree;

  /// sk_store_free as a native finalizer target.
  final Pointer<NativeFunction<_SkStoreFreeNative>> storeFreePointer;
  final _SkStoreUpsertDart storeUpsert;
  final _SkStoreRemoveDart storeRemove;
  final _SkStoreClearDart storeClear;
  final _SkStoreCountDart storeCount;
  final _SkStoreVersionDart storeVersion;
  final _SkStoreIsEnabledDart storeIsEnabled;
  final _SkStoreEvaluateDart storeEvaluate;
  final _SkStoreEvaluateTypedDart storeEvaluateTyped;

  /// Evaluation by handle, bound so that all of sidekick.h is reachable from Dart. FlagStore does
  /// not use it: caching handles in Dart would put a map lookup of its own on every call, which
  /// is the very lookup the handle saves in C.
  final _SkStoreFindDart storeFind;
  final _SkFlagIsEnabledDart flagIsEnabled;
  final _SkFlagEvaluateDart flagEvaluate;
  final _SkFlagEvaluateTypedDart flagEvaluateTyped;

  static SidekickBindings? _instance;

  /// The process-wide bindings over [openSidekickLibrary], checked against [sidekickAbiVersion].
  static SidekickBindings get instance {
    final existing = _instance;
    if (existing != null) {
      return existing;
    }
    final bindings = SidekickBindings(openSidekickLibrary());
    final actual = bindings.abiVersion();
    if (actual != sidekickAbiVersion) {
      throw StateError('libsidekick has ABI $actual but this package expects '
          '$sidekickAbiVersion; rebuild the native library from the same release');
    }
    return _instance = bindings;
  }
}

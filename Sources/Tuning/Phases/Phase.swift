import Foundation
import RangeTests

/// The name of a phase's work: what the journal keeps with each piece of work ("batch size"),
/// and what the report's sections and `study`'s kinds match. A phase declares its own in its
/// file (`extension Phase { static let … }`); the regularization step journals its two studies
/// apart (dropout, augmentation).
public struct Phase: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
  public let rawValue: String
  /// The spec or schedule field the phase studies (`batch_size`, `momentum`, `weight_decay`,
  /// `dropout`, `augmentation`): a program that does not apply it (Docs/PROTOCOL.md, `ignores`
  /// and `honours`) does not get the phase. nil: every program applies it.
  public let field: String?

  public init(rawValue: String) { self.init(rawValue, field: nil) }
  public init(_ name: String, field: String? = nil) {
    rawValue = name
    self.field = field
  }
  /// The phase that studies one of the recipe's own hyper-parameters: named as the report
  /// names it, studying the field of its entry (`momentum` for its max and min).
  public init(studying parameter: TunedParameter) {
    self.init(parameter.title, field: parameter.entry)
  }

  public var description: String { rawValue }
  public static func == (a: Phase, b: Phase) -> Bool { a.rawValue == b.rawValue }
  public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
  public init(from decoder: Decoder) throws {
    self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
  }
  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(rawValue)
  }
}

/// What the steps have decided so far: each step reads what the earlier ones found and adds its
/// own; the final run reads them all.
public struct Findings: Sendable {
  public var firstRangeTest: RangeTestComparison?
  /// Where the range tests after the first start (`Recipe.laterStart(after:)`).
  public var rangeTestStart: Double?
  public var batch: BatchSizeDecision?
  public var momentum: MomentumDecision?
  public var weightDecay: WeightDecayDecision?
  public var regularization: RegularizationDecision?
  /// The decisions of steps that declare theirs in their own file, by type:
  /// `extension Findings { var x: X? { get { self[X.self] } set { self[X.self] = newValue } } }`.
  private var others: [ObjectIdentifier: any Sendable] = [:]

  public init() {}

  public subscript<T: Sendable>(_ type: T.Type) -> T? {
    get { others[ObjectIdentifier(type)] as? T }
    set { others[ObjectIdentifier(type)] = newValue }
  }

  /// A finding a step needs from an earlier one, or an error that names both.
  public func required<T>(_ finding: KeyPath<Findings, T?>, by step: String, from earlier: String)
    throws -> T
  {
    guard let value = self[keyPath: finding] else {
      throw RecipeError(description: "the \(step) step needs the \(earlier) step to run first")
    }
    return value
  }
}

/// The recipe's steps in the order they run. Adding a phase is a file in `Phases/` (its method,
/// its `Phase` name, its decision as a `Findings` property, and a `RecipeStep`)
/// and a line here: `tune` runs it, and its report gives a step it has no special section for
/// the charts and table of its journaled work.
public let recipeSteps: [any RecipeStep] = [
  LearningRateStep(), BatchSizeStep(), MomentumStep(), WeightDecayStep(), RegularizationStep(),
]

/// One step of the recipe: a phase's work and choice, in its own file in `Phases/` beside the
/// phase's method.
public protocol RecipeStep: Sendable {
  /// What progress and the report's section call it.
  var title: String { get }
  /// The phases its work is journaled under.
  var phases: [Phase] { get }
  /// Whether progress and the report count it as a phase of this recipe (the regularization
  /// step without candidates only passes the given values on).
  func counts<B: TuningBackend>(in recipe: Recipe<B>) -> Bool
  /// Runs its work and adds its decision to `findings`.
  func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws
}

extension RecipeStep {
  public var phases: [Phase] { [Phase(rawValue: title)] }
  public func counts<B: TuningBackend>(in recipe: Recipe<B>) -> Bool { true }
}

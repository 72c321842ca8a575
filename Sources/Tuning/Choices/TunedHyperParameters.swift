import Foundation
import TrialProtocol

/// A choice, its one-line reason, and where it was compared with others, how it stands against
/// them and against the noise.
public struct Choice<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
  public var value: Value
  public var reason: String
  public var margin: Margin?
  public init(_ value: Value, _ reason: String, margin: Margin? = nil) {
    self.value = value
    self.reason = reason
    self.margin = margin
  }
}

/// The hyper-parameters the recipe chose, each with its reason (and, where candidates were
/// compared, its margin): the one record of them. The final run's plan, hyperparameters.json and
/// the report are read from it.
public struct TunedHyperParameters: Codable, Sendable {
  public var maxLearningRate: Choice<Double>
  public var minLearningRate: Choice<Double>
  public var batchSize: Choice<Int>
  public var maxMomentum: Choice<Double>
  public var minMomentum: Choice<Double>
  public var weightDecay: Choice<Double>
  public var dropout: Choice<Double>
  public var augmentation: Choice<String>
  /// Hyper-parameters beyond these that steps added to the recipe chose, by name, in the
  /// order they were chosen (`Recipe.choose(_:_:)`).
  public var others: [NamedChoice] = []

  /// The values alone: what the final run trains with, kept with its state for `--resume`.
  public var plan: FinalRunRecord.Plan {
    FinalRunRecord.Plan(
      batchSize: batchSize.value, maxLearningRate: maxLearningRate.value,
      maxMomentum: maxMomentum.value, minMomentum: minMomentum.value,
      weightDecay: weightDecay.value,
      regularization: Regularization(dropout: dropout.value, augmentation: augmentation.value),
      hyperparameters: others.isEmpty ? nil : others.values)
  }
}

/// A hyper-parameter beyond the recipe's own, chosen by a step added to it: its name (in the
/// spec, the journal and hyperparameters.json) and its choice.
public struct NamedChoice: Codable, Sendable, Equatable {
  public var name: String
  public var choice: Choice<HyperValue>
  public init(_ name: String, _ choice: Choice<HyperValue>) {
    self.name = name
    self.choice = choice
  }
}

extension [NamedChoice] {
  /// The chosen values by name.
  public var values: [String: HyperValue] {
    Dictionary(map { ($0.name, $0.choice.value) }, uniquingKeysWith: { $1 })
  }
}

/// One of the recipe's own tuned hyper-parameters, defined once: its name (its key in
/// hyperparameters.json's `reasons` and `margins`, and the spec field where it is one), its
/// name in the report, the entry of hyperparameters.json that holds its value, and where its
/// choice is kept. hyperparameters.json, the report's table of choices and `tune`'s summary
/// are all read through `TunedHyperParameters.entries`, which gives a hyper-parameter a step
/// added to the recipe (`others`) the same way under its own name.
public struct TunedParameter: Sendable {
  /// How a value reads in a report (RunFolders writes it): a learning rate to three figures, a
  /// number as `%g` without exponent padding, an integer, a word.
  public enum Form: Sendable { case learningRate, number, integer, word }

  /// Its name: "max_lr", "batch_size", "max_momentum".
  public let name: String
  /// Its name in the report and the summary: "max learning rate".
  public let title: String
  /// The entry of hyperparameters.json (and the report's row) that holds its value, with its
  /// part there: the momentum's top and bottom are one entry, `"momentum": [max, min]`.
  public let entry: String
  public let part: String?
  public let form: Form
  let read: @Sendable (TunedHyperParameters) -> Choice<HyperValue>

  init(
    _ name: String, _ title: String, entry: String? = nil, part: String? = nil, form: Form,
    read: @escaping @Sendable (TunedHyperParameters) -> Choice<HyperValue>
  ) {
    self.name = name
    self.title = title
    self.entry = entry ?? name
    self.part = part
    self.form = form
    self.read = read
  }

  public static let maxLearningRate = TunedParameter(
    "max_lr", "max learning rate", form: .learningRate
  ) { $0.maxLearningRate.map(HyperValue.number) }
  public static let minLearningRate = TunedParameter(
    "min_lr", "min learning rate", form: .learningRate
  ) { $0.minLearningRate.map(HyperValue.number) }
  public static let batchSize = TunedParameter("batch_size", "batch size", form: .integer) {
    $0.batchSize.map(HyperValue.integer)
  }
  public static let maxMomentum = TunedParameter(
    "max_momentum", "momentum", entry: "momentum", part: "max", form: .number
  ) { $0.maxMomentum.map(HyperValue.number) }
  public static let minMomentum = TunedParameter(
    "min_momentum", "momentum", entry: "momentum", part: "min", form: .number
  ) { $0.minMomentum.map(HyperValue.number) }
  public static let weightDecay = TunedParameter("weight_decay", "weight decay", form: .number) {
    $0.weightDecay.map(HyperValue.number)
  }
  public static let dropout = TunedParameter("dropout", "dropout", form: .number) {
    $0.dropout.map(HyperValue.number)
  }
  public static let augmentation = TunedParameter("augmentation", "augmentation", form: .word) {
    $0.augmentation.map(HyperValue.text)
  }

  /// The recipe's own, in the order the report gives them.
  public static let builtIn: [TunedParameter] = [
    maxLearningRate, minLearningRate, batchSize, maxMomentum, minMomentum, weightDecay, dropout,
    augmentation,
  ]

  /// A hyper-parameter a step added to the recipe, under its own name.
  static func added(_ named: NamedChoice) -> TunedParameter {
    let form: Form =
      switch named.choice.value {
      case .number: .number
      case .integer: .integer
      case .text: .word
      }
    return TunedParameter(named.name, named.name, form: form) { _ in named.choice }
  }
}

extension Choice {
  /// The same choice with its value transformed (its reason and margin kept).
  public func map<T>(_ transform: (Value) -> T) -> Choice<T> {
    Choice<T>(transform(value), reason, margin: margin)
  }
}

extension TunedHyperParameters {
  /// One entry of what the recipe chose: a hyper-parameter, or the parts that make one entry
  /// (the momentum's max and min), each with its definition and choice.
  public struct Entry: Sendable {
    public var name: String
    public var parts: [(parameter: TunedParameter, choice: Choice<HyperValue>)]

    /// The value as hyperparameters.json gives it: the value, or the parts' values in order.
    public var values: [HyperValue] { parts.map(\.choice.value) }
    /// The report's title of the entry.
    public var title: String { parts[0].parameter.title }
    /// The reason, each part's labelled: "max: …; min: …".
    public var reason: String { labelled { $0.choice.reason } }
    /// The margins' summaries, each part's labelled; nil where no candidates were compared.
    public func margins(_ summary: (Margin) -> String) -> String? {
      let any = parts.contains { $0.choice.margin != nil }
      return any ? labelled { $0.choice.margin.map(summary) } : nil
    }

    func labelled(_ text: ((parameter: TunedParameter, choice: Choice<HyperValue>)) -> String?)
      -> String
    {
      guard parts.count > 1 else { return text(parts[0]) ?? "" }
      return parts.compactMap { part in text(part).map { "\(part.parameter.part ?? ""): \($0)" } }
        .joined(separator: "; ")
    }
  }

  /// Every choice with its definition, the recipe's own then those steps added, the parts of
  /// an entry together.
  public var entries: [Entry] {
    var result: [Entry] = []
    let all = TunedParameter.builtIn + others.map(TunedParameter.added)
    for parameter in all {
      let part = (parameter: parameter, choice: parameter.read(self))
      if let i = result.firstIndex(where: { $0.name == parameter.entry }) {
        result[i].parts.append(part)
      } else {
        result.append(Entry(name: parameter.entry, parts: [part]))
      }
    }
    return result
  }

  /// Every choice under its own name (each part apart): `reasons` and `margins` keys.
  public var named: [(parameter: TunedParameter, choice: Choice<HyperValue>)] {
    entries.flatMap(\.parts)
  }
}

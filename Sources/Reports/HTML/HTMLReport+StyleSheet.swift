extension HTMLReport {
  /// The page's CSS: system fonts, cards for sections, readable tables, charts that shrink
  /// to fit narrow windows but never grow past their own size.
  static let styleSheet = """
    :root { color-scheme: light; --text: #1f2328; --muted: #59636e; --border: #d8dee4;
      --header: #f3f5f7; --stripe: #fafbfc; --accent: #0072b2; }
    * { box-sizing: border-box; }
    html { -webkit-text-size-adjust: 100%; }
    body { margin: 0; background: #eef0f3; color: var(--text);
      font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
        "Liberation Sans", "DejaVu Sans", sans-serif; }
    main { max-width: 1100px; margin: 0 auto; padding: 28px 20px 40px; }
    header { margin: 0 4px 18px; }
    h1 { font-size: 28px; line-height: 1.25; margin: 0 0 6px; }
    .subtitle { color: var(--muted); font-size: 17px; margin: 0; }
    section, nav { background: #fff; border: 1px solid var(--border); border-radius: 8px;
      padding: 18px 22px; margin: 0 0 18px; }
    section.summary { border-left: 4px solid var(--accent); }
    section > p:first-child, .summary p:first-child { margin-top: 0; }
    section > p:last-child { margin-bottom: 0; }
    h2 { font-size: 21px; line-height: 1.3; margin: 0 0 12px; }
    nav ul { margin: 6px 0 0; padding-left: 0; list-style: none; columns: 2; }
    nav a { color: var(--accent); text-decoration: none; }
    nav a:hover { text-decoration: underline; }
    figure { margin: 16px 0; }
    figure > svg { display: block; max-width: 100%; height: auto;
      border: 1px solid #e6e9ed; border-radius: 6px; }
    figcaption { color: var(--muted); font-size: 15px; margin: 8px 2px 0; max-width: 80ch; }
    figcaption p { margin: 0 0 6px; }
    .figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr));
      gap: 6px 18px; align-items: start; }
    .figures > figure { margin: 8px 0; }
    .table-wrap { overflow-x: auto; margin: 12px 0; }
    table { border-collapse: collapse; width: 100%; font-size: 15px; }
    caption { caption-side: bottom; text-align: left; color: var(--muted); font-size: 14px;
      padding-top: 6px; }
    th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--border);
      vertical-align: top; }
    thead th { background: var(--header); font-weight: 600; border-bottom-width: 2px; }
    tbody tr:nth-child(even) { background: var(--stripe); }
    .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    table.choices td.value { font-weight: 600; font-variant-numeric: tabular-nums;
      white-space: nowrap; }
    table.choices td:first-child { white-space: nowrap; }
    table.choices td.confidence { min-width: 12em; font-size: 0.92em; }
    table.kv { width: auto; min-width: 50%; }
    table.kv th { font-weight: 500; color: var(--muted); padding-right: 28px; }
    table.kv td { font-variant-numeric: tabular-nums; }
    code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
      monospace; font-size: 0.88em; background: #f0f2f5; padding: 1px 5px; border-radius: 4px; }
    .nowrap { white-space: nowrap; }
    footer { color: var(--muted); font-size: 13px; text-align: center; margin-top: 24px; }
    footer p { margin: 2px 0; }
    @media print {
      body { background: #fff; }
      main { max-width: none; padding: 0; }
      section, nav { border: none; padding: 0; margin-bottom: 24px; }
      figure { break-inside: avoid; }
    }

    """
}

/**
 * Which static form stands in for an nbflow widget view whose model is gone.
 *
 * nbflow sends every widget view with static forms beside it (HTML text for a
 * step's output, SVG and PNG for the graph) and marks the display with the
 * metadata `nbflow.static_fallback`. Only marked outputs are touched: other
 * libraries' widgets keep ipywidgets' own behaviour.
 */

export const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
/** What ipywidgets writes where a view's model is not found (a notebook saved without widget state). */
export const MODEL_NOT_FOUND = 'Error displaying widget: model not found';

type Bundle = { readonly [mime: string]: unknown };

/** The output's data without its widget view, when nbflow marked it and a static form is left; else null. */
export function staticForms(
  data: Bundle,
  metadata: { readonly [key: string]: unknown } | undefined
): { [mime: string]: unknown } | null {
  const mark = metadata?.['nbflow'] as
    { static_fallback?: unknown } | undefined;
  if (!mark || mark.static_fallback !== true || !(WIDGET_MIME in data)) {
    return null;
  }
  const forms: { [mime: string]: unknown } = {};
  for (const [mime, value] of Object.entries(data)) {
    if (mime !== WIDGET_MIME) {
      forms[mime] = value;
    }
  }
  return Object.keys(forms).length ? forms : null;
}

/** The static form that replaces a dead nbflow widget view. */

import { MODEL_NOT_FOUND, WIDGET_MIME, staticForms } from './staticform';

const view = { version_major: 2, version_minor: 0, model_id: 'abc' };
const marked = { nbflow: { static_fallback: true } };

describe('staticForms', () => {
  it('drops the widget view of a marked output and keeps every static form', () => {
    const data = {
      [WIDGET_MIME]: view,
      'text/plain': 'a: ok',
      'text/html': '<pre>a: ok</pre>'
    };
    expect(staticForms(data, marked)).toEqual({
      'text/plain': 'a: ok',
      'text/html': '<pre>a: ok</pre>'
    });
  });

  it('leaves unmarked outputs (other libraries widgets) alone', () => {
    expect(
      staticForms(
        { [WIDGET_MIME]: view, 'text/plain': 'IntSlider(value=5)' },
        {}
      )
    ).toBeNull();
    expect(
      staticForms({ [WIDGET_MIME]: view, 'text/plain': 'x' }, undefined)
    ).toBeNull();
    expect(
      staticForms(
        { [WIDGET_MIME]: view, 'text/plain': 'x' },
        { nbflow: { static_fallback: 'yes' } }
      )
    ).toBeNull();
  });

  it('needs a widget view to replace and a static form to show', () => {
    expect(staticForms({ 'text/plain': 'x' }, marked)).toBeNull();
    expect(staticForms({ [WIDGET_MIME]: view }, marked)).toBeNull();
  });

  it('knows the text ipywidgets writes for a missing model', () => {
    expect(MODEL_NOT_FOUND).toContain('model not found');
  });
});

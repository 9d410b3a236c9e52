// Live seat counts and loading states for the storefront's pages. No inline script anywhere: the
// Content-Security-Policy allows only this file.
'use strict';

(function () {
  const status = document.getElementById('live-status');
  const say = (text) => { if (status) status.textContent = text; };

  // One stream for every course the page shows; EventSource reconnects by itself when the
  // storefront or course-service restarts.
  const ids = Array.from(document.querySelectorAll('[data-live]'))
    .flatMap((el) => el.getAttribute('data-live').split(','))
    .filter((id) => id.length > 0);
  const unique = Array.from(new Set(ids)).slice(0, 100);
  if (unique.length > 0 && 'EventSource' in window) {
    const source = new EventSource('/live?courses=' + encodeURIComponent(unique.join(',')));
    source.addEventListener('open', () => say('Live.'));
    source.addEventListener('error', () => say('Reconnecting…'));
    source.addEventListener('seats', (event) => {
      let counts;
      try { counts = JSON.parse(event.data); } catch (_) { return; }
      document.querySelectorAll('[data-course="' + CSS.escape(String(counts.course_id)) + '"]').forEach((course) => {
        for (const field of ['seats_available', 'seats_held', 'seats_sold', 'waitlist_length']) {
          if (typeof counts[field] !== 'number') continue;
          course.querySelectorAll('[data-field="' + field + '"]').forEach((el) => {
            const text = String(counts[field]);
            if (el.textContent !== text) {
              el.textContent = text;
              el.classList.remove('changed');
              void el.offsetWidth;
              el.classList.add('changed');
            }
          });
        }
        course.toggleAttribute('data-sold-out', counts.seats_available === 0);
        // Revenue follows the seats sold: read it again when they change.
        course.querySelectorAll('[data-revenue]').forEach((el) => {
          if (el.dataset.sold === String(counts.seats_sold)) return;
          el.dataset.sold = String(counts.seats_sold);
          fetch(el.dataset.revenue, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
            .then((r) => (r.ok ? r.json() : null))
            .then((sales) => { if (sales && typeof sales.revenue === 'string') el.textContent = sales.revenue; })
            .catch(() => {});
        });
      });
    });
    window.addEventListener('pagehide', () => source.close());
  }

  // A form being sent shows it, and cannot be sent twice.
  document.querySelectorAll('form').forEach((form) => {
    form.addEventListener('submit', () => {
      form.setAttribute('aria-busy', 'true');
      form.querySelectorAll('button[type="submit"]').forEach((button) => {
        button.disabled = true;
        button.dataset.label = button.textContent;
        button.textContent = 'Working…';
      });
    });
  });
  // Coming back to a page through the browser's history shows its forms ready again.
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    document.querySelectorAll('form[aria-busy]').forEach((form) => {
      form.removeAttribute('aria-busy');
      form.querySelectorAll('button[type="submit"]').forEach((button) => {
        button.disabled = false;
        if (button.dataset.label) button.textContent = button.dataset.label;
      });
    });
  });
})();

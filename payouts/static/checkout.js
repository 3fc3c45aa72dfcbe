// Checkout with Stripe's Payment Element. The server created the PaymentIntent (amount
// computed on the server); this page only collects the card and confirms it with Stripe.
(function () {
  "use strict";
  const form = document.getElementById("checkout");
  if (!form || typeof Stripe === "undefined") return;
  const message = document.getElementById("checkout-message");
  const button = document.getElementById("pay-button");
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#payment-element");

  function csrfToken() {
    const match = document.cookie.match(/(?:^|; )duet_csrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  function show(text) {
    message.textContent = text;
    message.hidden = false;
    button.disabled = false;
    button.focus();
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    message.hidden = true;
    // Tell Duet a payment is in progress: it checks the purchase can still be paid (and
    // keeps a lesson's slot held meanwhile).
    const started = await fetch("/api/v1/payments/" + form.dataset.payment + "/attempt", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    if (!started.ok) {
      const body = await started.json().catch(function () { return {}; });
      show(body.message || "This can no longer be paid for.");
      return;
    }
    const result = await stripe.confirmPayment({
      elements: elements,
      confirmParams: { return_url: form.dataset.returnUrl },
    });
    if (result.error) show(result.error.message || "The payment did not go through.");
  });
})();

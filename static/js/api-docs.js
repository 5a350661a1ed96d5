// Starts Swagger UI on /api/docs/ from a static file: the CSP allows no inline script.
document.addEventListener("DOMContentLoaded", function () {
  var target = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: target.dataset.schemaUrl,
    domNode: target,
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
  });
});

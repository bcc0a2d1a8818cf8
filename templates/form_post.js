// Submits the form_post response page's form as soon as it loads (OAuth 2.0 Form Post Response Mode).
document.getElementById("form-post").submit();

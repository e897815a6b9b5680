"""The screens the daemon serves: the cashier's touch screen and the customer page
(docs/screen.md), pushed over WebSockets from the pure view model in lane.view."""
